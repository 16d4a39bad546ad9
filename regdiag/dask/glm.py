"""GLMs on Dask: IRLS with one tree reduction per iteration, then one pass for every per-row measure.

Iteration
    Each pass rebuilds every block, evaluates the linear predictor, means and deviance at the current coefficients and
    reduces ``[W^(1/2) X, W^(1/2) z]`` (working weights and residuals, :func:`regdiag.linear.glm_irls.working_weights`)
    to its R factor by the same tree as OLS (:mod:`regdiag.dask.ols`), carrying the deviance, the validity of the means,
    Pearson's statistic and the counts the convergence test needs. The step is solved from the small root R factored
    like the whole weighted design (pivots, rank, aliasing as in memory). The next pass evaluates the new coefficients
    *and* already reduces their working system: when the deviance did not rise it is the next iteration's reduction (one
    pass per iteration); when it rose, the step is halved and that pass is discarded, as the in-memory IRLS halves.
    Every step is a QR step (the in-memory path starts with cheaper Cholesky steps: a different path to the same fixed
    point), and convergence is declared by the in-memory rule (:func:`~regdiag.linear.glm_irls.step_criterion`,
    :func:`~regdiag.linear.glm_irls.qr_converged`: the step's estimated remaining error below ``tol`` times
    ``|b_j| + se_j``, or at the QR's rounding level). As in memory, the factorization kept for the diagnostics is that
    of the last iteration's start and the coefficients are those after its step.

Influence
    One pass: each block recomputes its rows of the kept factorization's ``Q`` (from the same working system) and its
    one-step measures with the in-memory formulas (:func:`regdiag.linear.glm_influence.one_step_measures`).
    Exact leave-one-out, group deletion, the observed information and separation detection (a linear program over
    all rows) are not available on Dask: a binomial fit whose fitted probabilities reach 0 or 1 warns as in memory,
    and one that does not converge says that separation could not be checked.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd
from scipy.linalg import solve_triangular

from .._validation import ConvergenceError, DataError, DesignError
from ..design import Design
from ..linalg import QRFactor
from ..linear.families import Family, make_family
from ..linear.glm import (
    GLMFit,
    deviance_residuals,
    extreme_probabilities,
    pearson_residuals,
    warn_extreme_probabilities,
    working_residuals,
)
from ..linear.glm_influence import GLMRows, assemble_influence, one_step_measures
from ..linear.glm_irls import (
    DEFAULT_MAXIT,
    DEFAULT_TOL,
    IRLSEvaluation,
    IRLSStep,
    format_trace,
    irls_loop,
    step_dispersion,
    working_weights,
)
from ..linear.ols import check_residual_df, response_resid, warn_conditioning
from ..protocols import ModelKind
from ..results import GLMInfluence
from ._blocks import Source, block_design, make_source
from ._engine import augmented, reduce_blocks
from ._refine import dd_residual
from ._tsqr import Node, Stats, block_q
from .influence import DaskInfluence
from .ols import (
    BlockScalars,
    DaskFit,
    _block_factor,
    _ols_rows,
    block_fields,
    empty_influence,
    fit_source,
    global_names,
    lazy_influence,
    refuse_group_deletion,
    split_root,
    summary_text,
)
from .ols import (
    _scalar_fields as ols_scalar_fields,
)

__all__ = ["DaskGLMFit", "glm"]

#: glm's options that need every row at once
_LOO_ERROR = (
    "exact leave-one-out is not available on Dask (it refits the model once per row); use loo='one-step', or fit "
    "the rows you want to check in memory with regdiag.glm and call .influence(loo='exact') there"
)


@dataclass(frozen=True)
class _Iterate:
    """Where a pass evaluates the model: coefficients (None: R's starting means) and the iteration number."""

    family: Family
    beta: np.ndarray | None
    it: int
    null_mu: float | None = None


def _prepared(d: Design, family: Family) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    y, w, _trials, mustart = family.prepare(d.y, d.weights, d.index, d.response_name)
    off = np.zeros(d.n_obs) if d.offset is None else np.asarray(d.offset, dtype=float)
    return y, w, off, mustart


def _linear_predictor(d: Design, family: Family, beta: np.ndarray | None, off: np.ndarray, mustart: np.ndarray):
    if beta is None:
        eta = family.link.link(mustart)
    else:
        eta = d.X @ beta
        eta += off
    return eta, family.link.inverse(eta)


def _working_system(d: Design, at: _Iterate, y, w, off, eta, mu) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The block's ``[W^(1/2) X, W^(1/2) target]`` at ``at`` (bit for bit the same in every pass), W and ok."""
    W, z, ok = working_weights(at.family, y, w, eta, mu, it=at.it, index=d.index)
    target = z if at.beta is not None else np.where(ok, eta - off + z, 0.0)
    return augmented(d.X, np.sqrt(W), target), W * z * z, ok


def _irls_leaf(d: Design, st: Stats, *, at: _Iterate) -> np.ndarray | None:
    fam = at.family
    y, w, off, mustart = _prepared(d, fam)
    eta, mu = _linear_predictor(d, fam, at.beta, off, mustart)
    dev = fam.deviance(y, mu, w)
    valid = bool(fam.link.valid_eta(eta) and fam.valid_mu(mu) and math.isfinite(dev))
    pos = w > 0
    st.add("valid", valid, "and")
    st.add("dev", dev, "sum")
    st.add("n_pos", int(np.count_nonzero(pos)), "sum")
    st.add("sum_w", float(np.sum(w)), "sum")
    st.add("sum_wy", float(np.sum(w * y)), "sum")
    st.add("has_intercept", bool(d.has_intercept), "or")
    if at.null_mu is not None:
        st.add("null_dev", fam.deviance(y, np.full_like(y, at.null_mu), w), "sum")
    if not valid:
        return None
    e_p = pearson_residuals(fam, y, mu, w)
    e_d = deviance_residuals(fam, y, mu, w)
    st.add("pearson", float(e_p @ e_p), "sum")
    st.add("dev_sum", float(e_d @ e_d), "sum")
    st.add("decreasing", bool(np.all(fam.link.mu_eta(eta[pos]) < 0)), "and")
    if fam.name == "binomial":
        st.add("extreme", int(np.count_nonzero(extreme_probabilities(mu, pos))), "sum")
    A, wzz, ok = _working_system(d, at, y, w, off, eta, mu)
    st.add("wzz", float(np.sum(wzz)), "sum")
    st.add("n_ok", int(np.count_nonzero(ok)), "sum")
    return A


def _null_leaf(d: Design, st: Stats, *, family: Family, mu0: float | None) -> None:
    """Deviance at a constant mean ``mu0`` (or at ``g^{-1}(offset)`` when None): the null deviance's pass."""
    y, w, off, _ = _prepared(d, family)
    mu = family.link.inverse(off) if mu0 is None else np.full_like(y, mu0)
    st.add("null_dev", family.deviance(y, mu, w), "sum")
    return None


@dataclass(frozen=True, eq=False, kw_only=True)
class GLMScalars(BlockScalars):
    """A GLM fit's :class:`~regdiag.dask.ols.BlockScalars` (``x``, ``x_lo``: for Gaussian with identity link, the
    refined least-squares solution), with the family, dispersion and the iterate of the kept factorization."""

    family: Family
    fac_at: _Iterate | None  # where the kept factorization's working system was formed (None: OLS rows)
    phi: float
    dev_sum: float
    sign: float
    residual: str
    method: str = "glm-one-step"
    dispersion_fixed: bool = False  # the dispersion was given to the fit: DFBETAS over sqrt(phi), as in memory


def _glm_block_influence(raw: tuple, spec: Any, G: np.ndarray, gs: GLMScalars) -> GLMInfluence:
    """Every one-step measure of one block's rows (runs on a worker)."""
    blk = block_design(raw, spec)
    d = blk.design
    fam = gs.family
    k = len(gs.names)
    if d is None:
        return _empty(gs, pd.RangeIndex(0), k)
    y, w, off, mustart = _prepared(d, fam)
    coef0 = np.where(np.isnan(gs.coef), 0.0, gs.coef)
    if gs.fac_at is None:  # Gaussian with identity link: the least-squares rows and residuals, as regdiag.ols
        _, A = _ols_rows(dataclasses.replace(d, y=y, weights=w))
        Qb = block_q(A, G)
        if gs.x is None or gs.x_lo is None:  # not refined (both are set together)
            e = A[:, k] - Qb @ gs.qtb
        else:  # residuals of the refined solution in double-double arithmetic, as regdiag.ols
            e = dd_residual(A, gs.factor.cols, gs.factor.scale[gs.factor.cols], gs.x, gs.x_lo)
        resid = response_resid(e, dataclasses.replace(d, y=y, weights=w), gs.coef)
        mu = y - resid
        eta = mu
        # V(mu) = 1: the Pearson and deviance residuals are functions of y - mu only, given here exactly
        e_p = pearson_residuals(fam, resid, np.zeros_like(resid), w)
        e_d = deviance_residuals(fam, resid, np.zeros_like(resid), w)
    else:
        eta_f, mu_f = _linear_predictor(d, fam, gs.fac_at.beta, off, mustart)
        A, _, _ = _working_system(d, gs.fac_at, y, w, off, eta_f, mu_f)
        Qb = block_q(A, G)
        eta, mu = _linear_predictor(d, fam, coef0, off, mustart)
        resid = y - mu
        e_p = pearson_residuals(fam, y, mu, w)
        e_d = deviance_residuals(fam, y, mu, w)
    f = _block_factor(gs.factor, Qb)
    pos = w > 0
    h = f.hat_diag()
    h[~pos] = 0.0
    undefined = ~(h < 1.0) | ~pos
    m = one_step_measures(
        f, h, e_p, e_d, gs.sign, undefined, family=fam, phi=gs.phi, df=gs.df, dev_sum=gs.dev_sum, residual=gs.residual
    )
    rows = GLMRows(
        X=d.X, y=y, eta=eta, resid=resid,
        resid_working=working_residuals(fam, y, mu, eta) if gs.fac_at is not None else resid,
        resid_pearson=e_p, resid_deviance=e_d, leverage=h, undefined=undefined, weights=np.array(w),
    )
    return assemble_influence(
        rows, m, family=fam, aliased_columns=gs.factor.aliased, **_scalar_fields(gs), index=d.index,
        dfbeta_one_step=m["dfbeta_one_step"] if gs.residual == "deviance" else None,
    )


def _scalar_fields(gs: GLMScalars) -> dict[str, Any]:
    return dict(
        **ols_scalar_fields(gs),  # type: ignore[arg-type]
        dispersion=float(gs.phi),
        residual=gs.residual,
        observed=False,
        dispersion_fixed=gs.dispersion_fixed,
        link_sign=gs.sign,
    )


def _empty(gs: GLMScalars, index: pd.Index, k: int) -> GLMInfluence:
    z = np.zeros(0)
    return empty_influence(
        GLMInfluence, index, k, weights=None, resid_working=z, resid_pearson=z, resid_deviance=z,
        standard_resid_pearson=z, dfbeta_one_step=np.zeros((0, k)) if gs.residual == "deviance" else None,
        family=gs.family.name, link=gs.family.link.name, **_scalar_fields(gs),
    )


@dataclass(frozen=True, eq=False, kw_only=True)
class DaskGLMFit(DaskFit):
    """A generalized linear model fitted to Dask data (see :func:`regdiag.dask.glm`).

    The fields of :class:`~regdiag.dask.ols.DaskFit` (``factor``: the factorization, of the small root R, of
    ``W^(1/2) X`` at the last iteration's start; ``nobs``: rows with positive prior weight; ``x_refined``: for
    Gaussian with identity link, the refined least-squares solution), and:

    Attributes
    ----------
    family : Family
    fac_at : _Iterate or None
        Where the kept factorization's working system was formed (None: the least-squares rows).
    deviance : float
    dev_sum : float
        Sum of squared deviance residuals.
    pearson_chi2 : float
    iterations : int
    converged : bool
    deviance_trace : tuple of float
    link_sign : float
        -1 where the link's inverse decreases, else 1.
    sum_w, sum_wy : float
        Sums of the prior weights and of weight times response (the null model's mean).
    has_offset : bool
    dispersion_fixed : float or None
    tol, maxit, rank_tol
        The IRLS settings (the null model with an offset is fitted with them).
    _cache : dict
        Values computed on first use (the null deviance, one more pass).
    """

    model_kind: ClassVar[ModelKind] = ModelKind.GLM

    family: Family
    fac_at: _Iterate | None
    deviance: float
    dev_sum: float
    pearson_chi2: float
    iterations: int
    converged: bool
    deviance_trace: tuple[float, ...]
    link_sign: float
    sum_w: float
    sum_wy: float
    has_offset: bool
    dispersion_fixed: float | None = None
    tol: float = DEFAULT_TOL
    maxit: int = DEFAULT_MAXIT
    rank_tol: float | None = None
    _cache: dict = field(default_factory=dict, repr=False)

    # ---- the in-memory fit's presentation, shared (the rest in DaskFit) ---------------------------------------------
    if TYPE_CHECKING:  # the borrowed properties read here, as the checker sees them (their self type is GLMFit)

        @property
        def df_null(self) -> int: ...

        @property
        def dispersion(self) -> float: ...

    else:
        df_null = GLMFit.df_null
        dispersion = GLMFit.dispersion
    _normal_reference = GLMFit._normal_reference
    _cov_scale = GLMFit._cov_scale
    coef_table = GLMFit.coef_table

    @property
    def method(self) -> str:
        """``"glm"``: the name of the fit's model class in messages and results."""
        return "glm"

    @property
    def design(self) -> Any:
        """The fit itself, for the in-memory properties that read ``design`` (``df_null``: ``has_intercept``).

        A Dask fit holds its blocks, not a :class:`~regdiag.design.Design`.
        """
        return self

    @property
    def null_deviance(self) -> float:
        """R's null deviance (computed on first use: one pass, or an intercept-only IRLS with an offset)."""
        if "null" not in self._cache:
            self._cache["null"] = self._null_deviance()
        return self._cache["null"]

    def _null_deviance(self) -> float:
        if self.has_intercept and self.has_offset:
            spec = dataclasses.replace(self.source.spec, intercept_only=True)
            src = dataclasses.replace(self.source, spec=spec, names=("Intercept",))
            try:
                null = _irls(src, self.family, None, self.tol, self.maxit, self.rank_tol, self.split_every)
            except (ConvergenceError, DesignError):  # pragma: no cover - the null model failing is not the fit's
                return math.nan
            return null["deviance"]
        mu0 = self.sum_wy / self.sum_w if self.has_intercept else None
        root = reduce_blocks(self.source, functools.partial(_null_leaf, family=self.family, mu0=mu0), self.split_every)
        return float(root.stats["null_dev"])

    def _scalars(self, residual: str) -> GLMScalars:
        phi = self.dispersion
        df = self.df_resid
        return GLMScalars(
            **self._block_scalars(),
            family=self.family,
            fac_at=self.fac_at,
            phi=phi,
            df=df,
            dev_sum=self.dev_sum,
            sigma=float(np.sqrt(self.dev_sum / df)) if df > 0 else math.nan,
            sign=self.link_sign,
            residual=residual,
            dispersion_fixed=self.dispersion_fixed is not None,
        )

    def influence(self, loo: str = "one-step", residual: str = "pearson", observed: bool = False, **kwargs: Any
                  ) -> DaskInfluence:
        """One-step influence measures of every row, as lazy Dask collections (see :meth:`GLMFit.influence`).

        Parameters
        ----------
        loo : {"one-step"}
            Exact leave-one-out is not available on Dask.
        residual : {"pearson", "deviance"}
            Residual of the one-step ``dfbeta``.
        observed : bool
            Must be False (the observed information is not available on Dask) unless the link is canonical.
        **kwargs
            The exact leave-one-out options of the in-memory path: not available on Dask (NotImplementedError).

        Returns
        -------
        DaskInfluence
            Per-row measures as Dask arrays, one task per block.
        """
        from ..linear.glm_influence import LOO_METHODS, RESIDUAL_KINDS, check_choice

        if check_choice(loo, LOO_METHODS, "loo") == "exact" or kwargs:
            raise NotImplementedError(_LOO_ERROR)
        residual = check_choice(residual, RESIDUAL_KINDS, "residual")
        if observed and not self.family.canonical:
            raise NotImplementedError(
                "observed=True is not available on Dask; the expected information (observed=False) is, and the two "
                "coincide for canonical links"
            )
        gs = self._scalars(residual)
        return lazy_influence(self, _glm_block_influence, gs, _empty(gs, self.source.index_meta, len(self.param_names)))

    def group_deletion(self, groups: Any, **kwargs: Any) -> Any:
        """Not available on Dask: group deletion needs the rows of every group together.

        Parameters
        ----------
        groups : array_like, mapping or sequence of sequences
            The grouping, as :meth:`regdiag.linear.glm.GLMFit.group_deletion` takes it.
        **kwargs
            The in-memory method's options.

        Returns
        -------
        None
            Never returns: raises NotImplementedError naming the in-memory path (fit the groups' rows with
            :func:`regdiag.glm` on a pandas DataFrame).
        """
        refuse_group_deletion("glm")

    def summary(self) -> str:
        """A text summary in the spirit of R's ``summary(glm)``.

        Returns
        -------
        str
            The fit, counts, dropped rows, coefficient table, dispersion, deviances and iterations, several lines.
        """
        return summary_text(
            self,
            f"GLM fit, {self.family}",
            f"dispersion {self.dispersion:.6g}; null deviance {self.null_deviance:.6g} on {self.df_null} df; "
            f"residual deviance {self.deviance:.6g} on {self.df_resid} df",
            f"IRLS iterations: {self.iterations} ({'converged' if self.converged else 'NOT converged'})",
        )

    def __repr__(self) -> str:
        return f"<DaskGLMFit {self.family} n={self.nobs} rank={self.rank} params={list(self.param_names)}>"


def _solve(root: Node, k: int, n: int, rank_tol: float | None) -> tuple[QRFactor, np.ndarray, np.ndarray]:
    if root.r is None:  # no block has rows left; the callers have stopped before
        raise DesignError("no observation carries information (every block is empty)")
    small, qtb, _ = split_root(root.r, k, rank_tol, n)
    if small.rank == 0:
        raise DesignError("the weighted design has rank 0: no coefficient can be estimated")
    x = solve_triangular(small.r, qtb, lower=False, check_finite=False)
    return small, qtb, x


class _DaskSteps:
    """The Dask backend of :func:`~regdiag.linear.glm_irls.irls_loop`: every step a QR step solved from the root of
    one tree reduction, whose pass also evaluated the coefficients it starts from."""

    def __init__(self, run: Any, family: Family, root: Node, k: int, n: int, rank_tol: float | None) -> None:
        self.run, self.family, self.k, self.n, self.rank_tol = run, family, k, n, rank_tol
        self.root = root
        self.kept: tuple[Node, QRFactor, np.ndarray, np.ndarray | None] | None = None

    def solve(self, beta: np.ndarray | None, it: int) -> IRLSStep:
        st = self.root.stats
        if st["n_ok"] == 0:
            raise DesignError(f"no observation carries information at iteration {it} (all working weights are 0)")
        small, qtb, x = _solve(self.root, self.k, self.n, self.rank_tol)
        self.kept = (self.root, small, qtb, beta)
        phi = step_dispersion(self.family, float(st["wzz"]), int(st["n_ok"]), self.k)
        return IRLSStep(
            d=small.to_original(x, fill=0.0), diag_inv=small.cov_unscaled_diag(), phi=phi, cond=small.cond, beta=beta
        )

    def evaluate(self, beta: np.ndarray, it: int) -> IRLSEvaluation:
        node = self.run(beta, it)
        return IRLSEvaluation(deviance=float(node.stats["dev"]), valid=bool(node.stats["valid"]), state=node)

    def accept(self, evaluation: IRLSEvaluation) -> None:
        self.root = evaluation.state  # type: ignore[assignment]

    def preliminary_done(self) -> None:  # pragma: no cover - every Dask step is a QR step
        pass

    def halving_failed(self, error: Exception) -> bool:
        return False

    def stop_after(self, it: int, converged: bool) -> bool:
        return False


def _irls(
    source: Source, family: Family, start: np.ndarray | None, tol: float, maxit: int, rank_tol: float | None,
    split_every: int,
) -> dict[str, Any]:
    """IRLS over the blocks (see the module docstring); returns what :class:`DaskGLMFit` needs."""

    def run(beta: np.ndarray | None, it: int) -> Node:
        return reduce_blocks(source, functools.partial(_irls_leaf, at=_Iterate(family, beta, it)), split_every)

    beta = None if start is None else np.where(np.isnan(start), 0.0, start)
    root = run(beta, 1)
    st = root.stats
    n = sum(st["lengths"].values())
    if (root.r is None and st.get("valid", True)) or n == 0:
        raise DataError("no rows are left after dropping rows with missing values")
    if not st["valid"] or root.r is None:  # here root.r is None only with invalid values (the test above)
        raise DesignError(
            f"cannot find valid starting values for the {family}: the starting linear predictor or means are outside "
            "the link's or family's domain; pass start= (coefficients)"
        )
    k = root.r.shape[1] - 1
    if start is not None and start.shape[0] != k:
        raise DesignError(f"start has {start.shape[0]} values but the design has {k} columns")
    steps = _DaskSteps(run, family, root, k, n, rank_tol)
    loop = irls_loop(steps, beta, float(st["dev"]), tol=tol, maxit=maxit)
    st = steps.root.stats
    if not loop.converged:
        note = ""
        if family.name == "binomial" and st.get("extreme", 0):
            note = (
                f" {int(st['extreme'])} fitted probabilities are numerically 0 or 1: the model may be separated (no "
                "maximum-likelihood estimate); separation detection needs all rows at once and is not available on "
                "Dask — fit a sample in memory with regdiag.glm to check."
            )
        err = ConvergenceError(
            f"IRLS did not converge in {maxit} iterations; deviance trace: {format_trace(loop.trace)}. Raise maxit, "
            f"loosen tol, or pass start= (coefficients).{note}"
        )
        err.deviance_trace = tuple(loop.trace)  # type: ignore[attr-defined]
        raise err
    fac_root, factor, qtb, fac_beta = steps.kept  # type: ignore[misc]
    coef = np.array(loop.beta, dtype=float)
    coef[factor.aliased] = np.nan
    return dict(
        factor=factor, coef=coef, fac_at=_Iterate(family, fac_beta, loop.iterations), qtb=qtb, fac_root=fac_root,
        final=st, deviance=loop.deviance, iterations=loop.iterations, converged=loop.converged,
        trace=tuple(loop.trace), n=n, k=k,
    )


def fit_glm_source(
    source: Source,
    family: Family,
    *,
    start: Any = None,
    tol: float = DEFAULT_TOL,
    maxit: int = DEFAULT_MAXIT,
    rank_tol: float | None = None,
    dispersion: float | None = None,
    split_every: int = 8,
) -> DaskGLMFit:
    """Fit a Dask input's blocks by IRLS (see the module docstring)."""
    common: dict[str, Any] = dict(
        source=source, family=family, has_offset=_has_offset(source),
        dispersion_fixed=None if dispersion is None else float(dispersion), tol=tol, maxit=maxit, rank_tol=rank_tol,
        split_every=split_every,
    )
    if family.name == "gaussian" and family.link.name == "identity":
        return DaskGLMFit(**common, **_gaussian_fit(source, rank_tol, split_every))
    if start is not None:
        start = np.asarray(start, dtype=float).reshape(-1)
    res = _irls(source, family, start, tol, maxit, rank_tol, split_every)
    factor = res["factor"]
    st = res["final"]
    names = global_names(source, res["fac_root"].stats, res["k"])
    npos = int(st["n_pos"])
    check_residual_df(npos, factor.rank)
    if family.name == "binomial" and st.get("extreme", 0):
        warn_extreme_probabilities()
    warn_conditioning(factor.cond, glm=True)
    fac_root = res["fac_root"]
    return DaskGLMFit(
        **common,
        factor=factor,
        coef=res["coef"],
        fac_at=res["fac_at"],
        qtb=res["qtb"],
        deviance=float(res["deviance"]),
        dev_sum=float(st["dev_sum"]),
        pearson_chi2=float(st["pearson"]),
        iterations=int(res["iterations"]),
        converged=bool(res["converged"]),
        deviance_trace=res["trace"],
        n_rows=int(res["n"]),
        nobs=npos,
        **block_fields(source, fac_root, factor.q),
        param_names=names,
        has_intercept=bool(st["has_intercept"]) or "const" in names,
        link_sign=-1.0 if npos and st["decreasing"] else 1.0,
        sum_w=float(st["sum_w"]),
        sum_wy=float(st["sum_wy"]),
    )


def _has_offset(source: Source) -> bool:
    spec = source.spec
    if spec.kind == "formula":
        return spec.offset is not None
    return any(r[-1] is not None for r in source.raw[:1])


def _gaussian_fit(source: Source, rank_tol: float | None, split_every: int) -> dict[str, Any]:
    """Gaussian with identity link: one least-squares pass is the IRLS fixed point (as in memory)."""
    fit = fit_source(source, tol=rank_tol, split_every=split_every)
    rss = fit.ssr
    shared = {
        f.name: getattr(fit, f.name) for f in dataclasses.fields(DaskFit) if f.name not in ("source", "split_every")
    }
    return dict(
        **shared,
        fac_at=None,
        deviance=rss,
        dev_sum=rss,
        pearson_chi2=rss,
        iterations=1,
        converged=True,
        deviance_trace=(0.0, rss),
        link_sign=1.0,
        sum_w=fit.tss_moments[0],
        sum_wy=fit.tss_moments[0] * fit.tss_moments[1],
    )


def glm(
    y_or_formula: Any,
    X: Any = None,
    *,
    data: Any = None,
    family: Any = "gaussian",
    link: str | None = None,
    weights: Any = None,
    offset: Any = None,
    alpha: float | None = None,
    start: Any = None,
    dispersion: float | None = None,
    missing: str = "omit",
    tol: float = DEFAULT_TOL,
    maxit: int = DEFAULT_MAXIT,
    rank_tol: float | None = None,
    split_every: int = 8,
) -> DaskGLMFit:
    """Fit a generalized linear model to Dask data by IRLS, one pass over the data per iteration.

    ``regdiag.glm`` hands Dask input over to this function; the parameters are those of :func:`regdiag.glm`
    (with a formula, ``weights`` and ``offset`` name columns of ``data``), plus ``split_every``, the fan-in of the
    reduction tree.

    Parameters
    ----------
    y_or_formula : str or Dask array / Series of shape (n_obs,) or (n_obs, 2)
        A formula (with ``data`` a Dask DataFrame), or the response (binomial: 0/1, a proportion with the trials
        as ``weights``, or two columns of successes and failures).
    X : Dask array of shape (n_obs, n_params) or Dask DataFrame, optional
        The design when ``y_or_formula`` is the response (used as given). Row chunks (partitions) are the blocks.
    data : dask.dataframe.DataFrame, optional
        Data for a formula.
    family : str or Family
        As :func:`regdiag.glm`.
    link : str, optional
        As :func:`regdiag.glm`; the family's canonical link by default.
    weights : str or Dask array / Series of shape (n_obs,), optional
        Prior weights; with a formula, the name of a column of ``data``.
    offset : str or Dask array / Series of shape (n_obs,), optional
        Offset on the linear-predictor scale; with a formula, the name of a column of ``data``.
    alpha : float, optional
        Negative binomial: the fixed ``alpha`` of ``V(mu) = mu + alpha mu^2`` (on Dask it cannot be estimated).
    start : array_like of shape (n_params,), optional
        Starting coefficients; default: R's starting means of the family.
    dispersion : float, optional
        Fix the dispersion; default as :func:`regdiag.glm`.
    missing : {"omit", "drop", "raise"}
        As in memory: rows with missing values are dropped and counted (``fit.n_dropped``), or an error names the
        column and rows.
    tol : float
        Convergence tolerance of IRLS, as in memory.
    maxit : int
        Largest number of IRLS iterations (one pass over the data each).
    rank_tol : float, optional
        Rank tolerance of the QR (default ``10 sqrt(n) eps``).
    split_every : int
        Fan-in of the reduction tree.

    Returns
    -------
    DaskGLMFit
        Coefficient-level results in memory, per-row results lazy.

    Examples
    --------
    >>> import dask.array as da, numpy as np, regdiag
    >>> rng = np.random.default_rng(0)
    >>> X = np.column_stack([np.ones(2000), rng.standard_normal(2000)])
    >>> y = rng.poisson(np.exp(X @ [0.5, 0.3])).astype(float)
    >>> fit = regdiag.glm(da.from_array(y, chunks=500), da.from_array(X, chunks=(500, 2)), family="poisson")
    >>> bool(np.allclose(fit.coef, regdiag.glm(y, X, family="poisson").coef, rtol=1e-10))
    True
    """
    fam = make_family(family, link, alpha)
    source = make_source(
        y_or_formula, X, data=data, weights=weights, offset=offset, missing=missing,
        two_column=fam.name == "binomial",
    )
    return fit_glm_source(
        source, fam, start=start, tol=tol, maxit=maxit, rank_tol=rank_tol, dispersion=dispersion,
        split_every=split_every,
    )
