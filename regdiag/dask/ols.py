"""OLS/WLS on Dask: one pass for the fit (TSQR of ``[W^(1/2) X, W^(1/2) y]``), one pass for every per-row measure.

The fit
    Every block ``[sqrt(w) X, sqrt(w) (y - offset)]`` (k + 1 columns) is reduced to its R factor and the R factors
    are reduced by a tree (:mod:`regdiag.dask._tsqr`); the root ``R`` ((k + 1) x (k + 1)) holds everything the fit
    needs: ``[A b] = Q0 R``. The small matrix ``R[:, :k]`` is then factored exactly as the in-memory path factors
    the whole design (:func:`regdiag.linalg.qr_factor`: power-of-two column scaling, pivoted Householder QR, rank
    with tolerance ``10 sqrt(n) eps``, aliased columns chosen in the given order as R does), giving
    ``A S P = Q0 q1 r1``. Householder QR is exactly invariant to power-of-two column scaling, and the column norms
    and Gram matrix of ``R`` are those of ``A``, so the pivots, the rank and the aliased columns are those of the
    in-memory factorization. ``Q'b = q1' R[:, k]``, the coefficients ``r1^{-1} Q'b`` and the residual sum of squares
    (the squared norm of ``R[:, k]`` less its projection on ``q1``) come from the small matrices.

The per-row measures
    A second pass rebuilds each block, refactors it (the same reflectors as in the first pass) and applies its
    reflectors to the block's slice of the tree's Q factors times ``q1`` (``dormqr``): that gives the block's rows of
    ``Q = Q0 q1``, orthonormal to rounding. Every measure of a row depends only on its row of ``Q``, its residual
    and the fit's scalars, so the block's :class:`~regdiag.results.Influence` is computed by the in-memory code
    (:func:`regdiag.linear.ols.row_measures`) — one task per block, lazily, and no further pass for any measure.

Accuracy
    Leverage and every measure agree with the in-memory path to rounding (about ``kappa * eps`` relative, ``kappa`` the
    condition number of the equilibrated design, as there). The coefficients start as the plain QR solution
    ``r1^{-1} Q'b``; when its estimated error (the in-memory path's estimate, :func:`regdiag.linalg.estimated_error`)
    exceeds ``1e-14`` relative, the trigger of :func:`regdiag.linalg.lstsq`, they are refined as in memory, one pass
    over the data per step (:func:`refine`): each block forms its residuals ``r = b - A x`` and the gradient ``A' r`` in
    double-double arithmetic (:mod:`regdiag.dask._refine`, the building blocks of
    :func:`regdiag.linalg.extended_residual`), the tree adds the gradients error-free, and the correction solves the
    corrected semi-normal equations ``R' R dx = A' r`` with the factor's ``R``. ``x`` is carried as a pair of doubles;
    the steps stop as in memory: when the largest componentwise correction is below ``eps / 8`` or stagnates, when the
    correction just applied times the estimated error (with the margin ``CONTRACTION_SAFETY``) is far below rounding (a
    mildly conditioned fit takes one pass), or after ``MAX_REFINE`` steps. Because ``R`` is the R factor of a matrix
    within rounding of ``A``, each step reduces the error by a factor of about ``kappa * eps``, the rate of the
    in-memory augmented-system refinement, and both converge to the least-squares solution of the same double-precision
    data. The per-row measures of a refined fit use the residuals of the refined coefficients, formed again in
    double-double arithmetic by each block's task, and the residual sum of squares of the refined coefficients. An
    ill-conditioned design (condition number above 1e8) gets the same warning as in memory.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import dask
import numpy as np
import pandas as pd
from scipy.linalg import solve_triangular

from .._validation import DataError, format_labels
from ..design import Design, const_names
from ..linalg import (
    EPS,
    MAX_REFINE,
    REFINE_THRESHOLD,
    QRFactor,
    add_correction,
    default_rank_tol,
    estimated_error,
    qr_factor,
    refinement_done,
    relative_correction,
)
from ..linear.ols import (
    PERFECT_FIT_FACTOR,
    OLSFit,
    check_residual_df,
    response_resid,
    row_measures,
    warn_conditioning,
)
from ..protocols import ModelKind
from ..results import Influence
from ._blocks import Source, block_design, make_source
from ._engine import augmented, leaf_factors, reduce_blocks
from ._refine import dd_gradient, dd_residual
from ._tsqr import Node, Stats, block_q, moments
from .influence import DaskInfluence

__all__ = ["DaskOLSFit", "ols", "refine"]


def _ols_rows(d: Design) -> tuple[np.ndarray | None, np.ndarray]:
    """``sqrt(w)`` (None without weights) and the block's matrix ``[sqrt(w) X, sqrt(w) (y - offset)]``."""
    sqrt_w = None if d.weights is None else np.sqrt(d.weights)
    y = d.y if d.offset is None else d.y - d.offset
    return sqrt_w, augmented(d.X, sqrt_w, y)


def _ols_leaf(d: Design, st: Stats) -> np.ndarray:
    sqrt_w, A = _ols_rows(d)
    w = np.ones(d.n_obs) if d.weights is None else d.weights
    st.add("n_pos", int(np.count_nonzero(w > 0)), "sum")
    b = d.y if sqrt_w is None else d.y * sqrt_w
    st.add("norm_b2", float(b @ b), "sum")
    y = d.y if d.offset is None else d.y - d.offset
    st.add("moments", moments(y, w), "moments")
    st.add("has_intercept", bool(d.has_intercept), "or")
    return A


def split_root(r: np.ndarray, k: int, tol: float | None, n: int) -> tuple[QRFactor, np.ndarray, float]:
    """Factor the root's ``R[:, :k]`` like the whole design; return (factor, ``Q'b``, residual sum of squares).

    The residual ``R[:, k] - q1 q1' R[:, k]`` is projected twice (Gram-Schmidt twice is enough), so its squared norm
    is accurate to ``eps ||b||`` like the in-memory ``b - Q Q'b``.
    """
    small = qr_factor(r[:, :k], tol=default_rank_tol(n) if tol is None else tol)
    rb = r[:, k]
    qtb = small.q.T @ rb
    t = rb - small.q @ qtb
    t = t - small.q @ (small.q.T @ t)
    return small, qtb, float(t @ t)


@dataclass(frozen=True, eq=False, kw_only=True)
class BlockScalars:
    """A fit's small results that every block task needs (picklable; no Dask objects), for OLS and GLM alike."""

    factor: QRFactor  # its q is the small (k + 1) x rank factor; blocks swap in their rows of Q
    coef: np.ndarray
    qtb: np.ndarray
    df: int
    sigma: float
    nobs: int
    names: tuple[str, ...]
    aliased: tuple[str, ...]
    method: str
    x: np.ndarray | None = None  # refined coefficients in factor coordinates (x + x_lo); None: not refined
    x_lo: np.ndarray | None = None


@dataclass(frozen=True, eq=False, kw_only=True)
class FitScalars(BlockScalars):
    """An OLS fit's :class:`BlockScalars`, with its residual sum of squares and whether the fit is perfect."""

    rss: float
    perfect: bool


def _ols_block_influence(raw: tuple, spec: Any, G: np.ndarray, fs: FitScalars) -> Influence:
    """Every measure of one block's rows (runs on a worker)."""
    blk = block_design(raw, spec)
    d = blk.design
    k = len(fs.names)
    if d is None:
        return empty_influence(Influence, pd.RangeIndex(0), k, weights=None, **_scalar_fields(fs))
    _sqrt_w, A = _ols_rows(d)
    Qb = block_q(A, G)
    f = _block_factor(fs.factor, Qb)
    if fs.x is None or fs.x_lo is None:  # not refined (both are set together)
        e = A[:, k] - Qb @ fs.qtb
    else:  # the residuals of the refined coefficients, in double-double arithmetic
        e = dd_residual(A, fs.factor.cols, fs.factor.scale[fs.factor.cols], fs.x, fs.x_lo)
    pos = np.ones(d.n_obs, dtype=bool) if d.weights is None else d.weights > 0
    resid = response_resid(e, d, fs.coef)
    m = row_measures(f, e, resid, pos, rss=fs.rss, df=fs.df, sigma=fs.sigma, perfect=fs.perfect)
    return Influence(
        **m,
        **_scalar_fields(fs),
        weights=None if d.weights is None else np.array(d.weights),
        index=d.index,
    )


def _block_factor(small: QRFactor, Qb: np.ndarray) -> QRFactor:
    """The whole fit's factorization with the block's rows of ``Q`` in place of the small ``q``."""
    return dataclasses.replace(small, q=Qb)


def empty_influence(cls: type, index: pd.Index, k: int, **fields: Any) -> Any:
    """A result object with no rows (an empty block, or the template of a lazy result); ``fields``: the scalars."""
    z = np.zeros(0)
    rows = dict(
        leverage=z, resid=z, standard_resid=z, student_resid=z, press_resid=z, sigma_loo=z, cooks_distance=z,
        cooks_pvalue=z, dffits=z, cov_ratio=z, dfbeta_data=np.zeros((0, k)),
    )
    rows.update({key: val for key, val in fields.items() if key not in rows})
    return cls(**rows, index=index[:0])


def _scalar_fields(fs: FitScalars) -> dict[str, Any]:
    """The result's fields that are the fit's scalars (read from any object with these attribute names)."""
    return dict(
        params=np.array(fs.coef),
        cov_unscaled_diag=fs.factor.cov_unscaled_diag(),
        sigma=fs.sigma,
        rank=fs.factor.rank,
        df_resid=float(fs.df),
        n_obs=fs.nobs,
        param_names=fs.names,
        aliased=fs.aliased,
        method=fs.method,
    )


def global_names(source: Source, st: Stats, k: int) -> tuple[str, ...]:
    """Parameter names: the frame's columns, the formula's terms, or statsmodels' names for arrays."""
    if source.names is not None:
        return source.names
    if source.spec.kind == "formula":
        names = st.get("names")
        if names is None:
            raise DataError("no rows are left after dropping rows with missing values")
        return tuple(names)
    const = st.get("const")  # per column: all ones in every block (the in-memory test, made global)
    return const_names(k, lambda c: const is not None and bool(const[c]))


def lengths_of(st: Stats, n_blocks: int) -> tuple[int, ...]:
    lens = st["lengths"]
    return tuple(int(lens[b]) for b in range(n_blocks))


def block_fields(source: Source, node: Node, q: np.ndarray) -> dict[str, Any]:
    """A fit's fields read from the root of the pass whose factorization it keeps: every block's slice of the tree's
    Q factors times ``q``, the rows used per block, the dropped rows, and the rows of positive leverage."""
    st = node.stats
    return dict(
        block_factors=tuple(leaf_factors(node, q)),
        block_lengths=lengths_of(st, source.n_blocks),
        n_dropped=int(st["n_dropped"]),
        dropped_head=tuple(st["dropped_head"]),
        n_positive_leverage=int(st["n_hpos"]),
    )


def lazy_influence(fit: Any, block_fn: Callable[..., Any], scalars: Any, template: Any) -> DaskInfluence:
    """A fit's per-row measures, lazily: one task per block, ``block_fn(raw, spec, G, scalars)`` (``G``: the block's
    slice of the tree's Q factors), and ``template`` the empty result that gives the collections their types."""
    tasks = [
        dask.delayed(block_fn, pure=False)(raw, fit.source.spec, G, scalars)
        for raw, G in zip(fit.source.raw, fit.block_factors)
    ]
    return DaskInfluence(
        blocks=tasks,
        lengths=fit.block_lengths,
        template=template,
        fit=fit,
        n_positive_leverage=fit.n_positive_leverage,
    )


def _refine_leaf(d: Design, st: Stats, *, cols: np.ndarray, col_scale: np.ndarray, x: np.ndarray,
                 x_lo: np.ndarray) -> None:
    """One block's share of a refinement step: ``A' r`` (double-double) and ``r'r``; nothing to factor."""
    _, A = _ols_rows(d)
    g, ss = dd_gradient(A, cols, col_scale, x, x_lo)
    st.add("g", g, "ddsum")
    st.add("rss", ss, "sum")
    return None


@dataclass(frozen=True)
class Refined:
    """Result of :func:`refine`: coefficients in factor coordinates as a pair ``x + x_lo``, the residual sum of
    squares of the refined coefficients, and the number of steps (passes over the data)."""

    x: np.ndarray
    x_lo: np.ndarray
    rss: float
    steps: int


def refine(source: Source, small: QRFactor, x: np.ndarray, split_every: int = 8, est: float = math.inf) -> Refined:
    """Refine the plain QR solution ``x`` (factor coordinates) in extended precision, one pass per step.

    Each step computes, block by block, ``r = b - A (x + x_lo)`` and ``g = A' r`` in double-double arithmetic
    (``A`` the kept, scaled columns in pivot order), adds the blocks' ``g`` error-free up the tree, and corrects
    ``x`` by ``dx = R^{-1} R^{-T} g`` (corrected semi-normal equations with the factor's ``R``). Stops as
    :func:`regdiag.linalg.lstsq` does: largest componentwise correction below ``eps / 8``, or (from the second step)
    not halving, or the corrections to ``x`` (componentwise) and to the residuals (normwise, ``||A dx|| / ||r||``)
    times ``est`` (the plain solution's estimated error, about the factor each step shrinks the error by) times
    ``CONTRACTION_SAFETY`` below ``eps / 8``, or ``MAX_REFINE`` steps. The residual sum of squares of the final ``x``
    is the last pass's ``r'r`` less ``||R dx||^2`` (exact for ``dx`` solving the normal equations with ``R'R``).

    Parameters
    ----------
    source : Source
        The blocks of the input.
    small : QRFactor
        Factorization of the root's ``R[:, :k]`` (pivots, scaling, rank, ``r`` of shape (rank, rank)).
    x : ndarray of shape (rank,)
        The plain QR solution in factor coordinates.
    split_every : int
        Fan-in of the reduction tree.
    est : float
        Estimated relative error of ``x`` (:func:`regdiag.linalg.estimated_error`).

    Returns
    -------
    Refined
        ``x`` and ``x_lo`` (the refined solution as a pair of doubles, shape (rank,) each), the residual sum of
        squares of ``x + x_lo`` and the number of steps taken.
    """
    from functools import partial

    R = small.r
    cols = small.cols
    cs = small.scale[cols]
    x = np.array(x, dtype=float)
    x_lo = np.zeros_like(x)
    prev = math.inf
    rss = math.nan
    steps = 0
    for steps in range(1, MAX_REFINE + 1):
        fn = partial(_refine_leaf, cols=cols, col_scale=cs, x=x.copy(), x_lo=x_lo.copy())
        st = reduce_blocks(source, fn, split_every).stats
        g_hi, g_lo = st["g"]
        g = g_hi + g_lo
        h = solve_triangular(R, g, trans="T", lower=False)
        dx = solve_triangular(R, h, lower=False)
        rss = max(float(st["rss"]) - float(h @ h), 0.0)  # ||R dx|| = ||h||
        x, x_lo = add_correction(x, x_lo, dx)
        rel = relative_correction(dx, x)
        # as in memory; the residuals' correction normwise is ||A dx|| = ||h||
        pass_rss = float(st["rss"])
        if refinement_done(rel, prev, steps, est, lambda h=h, pass_rss=pass_rss: float(np.linalg.norm(h)) / max(
                math.sqrt(max(pass_rss, 0.0)), np.finfo(float).tiny)):
            break
        prev = rel
    return Refined(x=x, x_lo=x_lo, rss=rss, steps=steps)


def refuse_group_deletion(function: str) -> None:
    """Group deletion needs the rows of each group together: say so, and what to do instead."""
    raise NotImplementedError(
        "group deletion is not available on Dask: it needs the rows of every group together. Select the rows of the "
        f"groups you care about, fit them in memory (regdiag.{function} on a pandas DataFrame) and call "
        ".group_deletion() there"
    )


def summary_text(fit: Any, head: str, *tail: str) -> str:
    """The text summary of a Dask fit: what was fitted to what, counts, dropped rows, coefficients, then ``tail``."""
    if fit.source.spec.formula:
        head += f": {fit.source.spec.formula}"
    lines = [f"{head} (on {fit.source.description})", f"n = {fit.nobs}, rank = {fit.rank}, df_resid = {fit.df_resid}"]
    if fit.n_dropped:
        more = f" and {fit.n_dropped - len(fit.dropped_head)} more" if fit.n_dropped > len(fit.dropped_head) else ""
        lines.append(f"dropped for missing values: {fit.n_dropped} row(s) ({format_labels(fit.dropped_head)}{more})")
    if fit.aliased:
        lines.append(f"aliased (not estimable, coefficient NaN): {', '.join(fit.aliased)}")
    lines.append(fit.coef_table().to_string(float_format=lambda v: f"{v:.6g}"))
    lines.extend(tail)
    return "\n".join(lines)


@dataclass(frozen=True, eq=False, kw_only=True)
class DaskFit:
    """What every fit to Dask data holds: the blocks, the kept factorization and the tree's per-block factors.

    Attributes
    ----------
    source : Source
        The blocks of the input (recomputed from the Dask graph on every pass; nothing is persisted).
    factor : QRFactor
        Factorization of the root's small ``R[:, :k]``: ``r``, ``cols``, ``scale``, ``aliased``, ``cond`` are those
        of the whole weighted design; its ``q`` is the small ``(k + 1) x rank`` factor.
    coef : ndarray of shape (n_params,)
        Coefficients (NaN for aliased columns).
    qtb : ndarray of shape (rank,)
        ``Q' b`` of the kept factorization.
    n_rows : int
        Rows used (after dropping missing values), with zero weights.
    nobs : int
        Rows with positive weight.
    block_factors : tuple of ndarray
        Every block's slice of the tree's Q factors times the small ``q``.
    block_lengths : tuple of int
        Rows used in each block.
    param_names : tuple of str
    n_dropped : int
        Rows dropped for missing values (``dropped_head``: the first of their labels).
    dropped_head : tuple
    has_intercept : bool
    split_every : int
        Fan-in of the reduction tree.
    x_refined, x_refined_lo : ndarray or None
        The refined least-squares coefficients in factor coordinates, as a pair of doubles (None when not refined);
        every block's residuals are formed from them.
    n_positive_leverage : int
        Rows with positive leverage (positive weight, design row not all zeros): the ``n`` of the "R" flagging rule.
    """

    model_kind: ClassVar[ModelKind] = ModelKind.OLS

    source: Source
    factor: QRFactor
    coef: np.ndarray
    qtb: np.ndarray
    n_rows: int
    nobs: int
    block_factors: tuple[np.ndarray, ...]
    block_lengths: tuple[int, ...]
    param_names: tuple[str, ...]
    n_dropped: int
    dropped_head: tuple
    has_intercept: bool
    split_every: int = 8
    x_refined: np.ndarray | None = None
    x_refined_lo: np.ndarray | None = None
    n_positive_leverage: int | None = None

    # ---- the in-memory fits' presentation, the same for OLS and GLM: borrowed ---------------------------------------
    params = OLSFit.params
    bse = OLSFit.bse
    tvalues = OLSFit.tvalues
    pvalues = OLSFit.pvalues
    cov_params = OLSFit.cov_params
    if TYPE_CHECKING:  # the borrowed properties read here, as the checker sees them (their self type is OLSFit)

        @property
        def aliased(self) -> tuple[str, ...]: ...

        @property
        def rank(self) -> int: ...

        @property
        def df_resid(self) -> int: ...

        @property
        def cond(self) -> float: ...

    else:
        aliased = OLSFit.aliased
        rank = OLSFit.rank
        df_resid = OLSFit.df_resid
        cond = OLSFit.cond

    def _block_scalars(self) -> dict[str, Any]:
        """The :class:`BlockScalars` fields read from the fit itself."""
        return dict(
            factor=self.factor, coef=self.coef, qtb=self.qtb, nobs=self.nobs, names=self.param_names,
            aliased=self.aliased,
            x=self.x_refined, x_lo=self.x_refined_lo,
        )


@dataclass(frozen=True, eq=False, kw_only=True)
class DaskOLSFit(DaskFit):
    """A linear model fitted to Dask data (see :func:`regdiag.dask.ols`).

    Coefficient-level results are small pandas objects in memory, as for :class:`~regdiag.OLSFit`; per-row
    results (:meth:`influence`) are lazy Dask collections. The fields of :class:`DaskFit`, and:

    Attributes
    ----------
    ssr : float
        Weighted residual sum of squares.
    norm_b : float
        Norm of the weighted response.
    tss_moments : tuple of float
        Sum of weights, weighted mean and weighted centred sum of squares of the response.
    est_error : float
        Estimated relative error of the plain QR solution; above 1e-14 the coefficients are refined (as in memory).
    weighted : bool
    refine_steps : int
        Steps of extended-precision refinement taken, one pass over the data each (0 when not needed).
    """

    ssr: float
    norm_b: float
    tss_moments: tuple[float, float, float]
    est_error: float
    weighted: bool
    refine_steps: int = 0

    # ---- the in-memory fit's presentation, shared (the rest in DaskFit) ---------------------------------------------
    coef_table = OLSFit.coef_table
    if TYPE_CHECKING:  # the borrowed properties read here, as the checker sees them (their self type is OLSFit)

        @property
        def sigma(self) -> float: ...

    else:
        sigma = OLSFit.sigma
    _cov_scale = OLSFit._cov_scale
    _normal_reference = OLSFit._normal_reference

    @property
    def method(self) -> str:
        """``"wls"`` with weights, else ``"ols"``."""
        return "wls" if self.weighted else "ols"

    @property
    def perfect_fit(self) -> bool:
        """Residuals at rounding level: measures that divide by sigma are NaN."""
        return math.sqrt(self.ssr) <= PERFECT_FIT_FACTOR * EPS * self.norm_b

    @property
    def rsquared(self) -> float:
        """``R^2 = 1 - RSS / TSS`` (``TSS`` about the weighted mean with an intercept, about 0 without)."""
        sw, mean, m2 = self.tss_moments
        tss = m2 if self.has_intercept else m2 + sw * mean**2
        return 1.0 - self.ssr / tss if tss > 0 else float("nan")

    def _scalars(self) -> FitScalars:
        return FitScalars(
            **self._block_scalars(), rss=self.ssr, df=self.df_resid, sigma=self.sigma, perfect=self.perfect_fit,
            method=self.method,
        )

    def influence(self) -> DaskInfluence:
        """Every closed-form influence measure of every row, as lazy Dask collections (one task per block).

        Returns
        -------
        DaskInfluence
            Per-row measures as Dask arrays (``leverage``, ``cooks_distance``, ``dfbetas``, ...), ``to_frame()`` as
            a Dask DataFrame indexed by the row labels, ``summary()`` (flag counts and the most influential rows,
            one pass), ``compute()`` (an in-memory :class:`~regdiag.Influence`). Formulas: :meth:`OLSFit.influence`.
        """
        fs = self._scalars()
        template = empty_influence(
            Influence, self.source.index_meta, len(self.param_names), weights=None, **_scalar_fields(fs)
        )
        return lazy_influence(self, _ols_block_influence, fs, template)

    def group_deletion(self, groups: Any) -> Any:
        """Not available on Dask: group deletion needs the rows of every group together.

        Parameters
        ----------
        groups : array_like, mapping or sequence of sequences
            The grouping, as :meth:`regdiag.OLSFit.group_deletion` takes it.

        Returns
        -------
        None
            Never returns: raises NotImplementedError naming the in-memory path (fit the groups' rows with
            :func:`regdiag.ols` on a pandas DataFrame).
        """
        refuse_group_deletion("ols")

    def summary(self) -> str:
        """A text summary in the spirit of R's ``summary(lm)``.

        Returns
        -------
        str
            The fit, counts, dropped rows, coefficient table, residual standard error, R-squared and condition
            number, several lines.
        """
        return summary_text(
            self,
            f"{self.method.upper()} fit",
            f"residual standard error: {self.sigma:.6g} on {self.df_resid} df; R-squared: {self.rsquared:.4f}",
            f"condition number (equilibrated design): {self.cond:.3g}",
        )

    def __repr__(self) -> str:
        return f"<DaskOLSFit {self.method} n={self.nobs} rank={self.rank} params={list(self.param_names)}>"


def fit_source(source: Source, *, tol: float | None = None, split_every: int = 8) -> DaskOLSFit:
    """Fit a Dask input's blocks by least squares (one pass, and one per refinement step if needed)."""
    root = reduce_blocks(source, _ols_leaf, split_every)
    st = root.stats
    n = sum(st["lengths"].values())
    if root.r is None or n == 0:
        raise DataError("no rows are left after dropping rows with missing values")
    k = root.r.shape[1] - 1
    names = global_names(source, st, k)
    npos = int(st["n_pos"])
    if npos == 0:
        raise DataError("all weights are zero: no observation is left to fit")
    small, qtb, rss = split_root(root.r, k, tol, n)
    check_residual_df(npos, small.rank)
    x = solve_triangular(small.r, qtb, lower=False) if small.rank else np.zeros(0)
    est = estimated_error(small, x, float(np.linalg.norm(root.r[:, k])), math.sqrt(rss))
    warn_conditioning(small.cond)
    refined = refine(source, small, x, split_every, est) if est > REFINE_THRESHOLD else None
    if refined is not None:
        x, rss = refined.x, refined.rss
    coef = small.to_original(x)
    return DaskOLSFit(
        source=source,
        factor=small,
        coef=coef,
        qtb=qtb,
        ssr=rss,
        n_rows=n,
        nobs=npos,
        **block_fields(source, root, small.q),
        param_names=names,
        has_intercept=bool(st["has_intercept"]) or "const" in names,
        norm_b=math.sqrt(st["norm_b2"]),
        tss_moments=tuple(st["moments"]),
        est_error=est,
        weighted=source.weighted,
        split_every=split_every,
        refine_steps=0 if refined is None else refined.steps,
        x_refined=None if refined is None else refined.x,
        x_refined_lo=None if refined is None else refined.x_lo,
    )


def ols(
    y_or_formula: Any,
    X: Any = None,
    *,
    data: Any = None,
    weights: Any = None,
    missing: str = "omit",
    tol: float | None = None,
    split_every: int = 8,
) -> DaskOLSFit:
    """Fit a linear model to Dask data by ordinary or weighted least squares (one pass over the data, and one per
    step of extended-precision refinement where the plain solution's estimated error exceeds 1e-14).

    ``regdiag.ols`` hands Dask input over to this function; the parameters are those of :func:`regdiag.ols`.

    Parameters
    ----------
    y_or_formula : str or Dask array / Series of shape (n_obs,)
        A formula (with ``data`` a Dask DataFrame), or the response.
    X : Dask array of shape (n_obs, n_params) or Dask DataFrame, optional
        The design when ``y_or_formula`` is the response (used as given). Row chunks (partitions) are the blocks.
    data : dask.dataframe.DataFrame, optional
        Data for a formula.
    weights : str or Dask array / Series, optional
        Analytic weights; with a formula, the name of a column of ``data``.
    missing : {"omit", "drop", "raise"}
        As in memory: rows with missing or non-finite values are dropped and counted (``fit.n_dropped``), or an error
        names the column and rows.
    tol : float, optional
        Rank tolerance (default ``10 sqrt(n) eps``).
    split_every : int
        Fan-in of the reduction tree.

    Returns
    -------
    DaskOLSFit

    Examples
    --------
    >>> import dask.array as da, numpy as np, regdiag
    >>> rng = np.random.default_rng(0)
    >>> X = np.column_stack([np.ones(1000), rng.standard_normal((1000, 2))])
    >>> y = X @ [1.0, 2.0, -1.0] + rng.standard_normal(1000)
    >>> fit = regdiag.ols(da.from_array(y, chunks=250), da.from_array(X, chunks=(250, 3)))
    >>> bool(np.allclose(fit.coef, regdiag.ols(y, X).coef, rtol=1e-12))
    True
    """
    source = make_source(y_or_formula, X, data=data, weights=weights, missing=missing)
    return fit_source(source, tol=tol, split_every=split_every)
