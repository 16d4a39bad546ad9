"""Parameter influence, pairwise scores, self-influence and a generalized Cook's distance, for any model.

Removal convention (``shared/ARCHITECTURE.md``): ``delta_i = theta_(-i) - theta``. For the objective
``L = (1/n) sum_j l_j + (l2/2)||theta||^2`` with curvature ``C`` (damped: ``C + lambda I``),

    delta_i ~ (C + lambda I)^{-1} grad l_i / n                                    (correction="none")

is the influence-function estimate: removing i moves ``theta`` up i's loss gradient. ``correction="leverage"``
takes the Newton step of the objective without i instead, removing i's own term ``U_i' diag(s_i) U_i / n`` from the
curvature by the Woodbury identity:

    delta_i = d + W_i (n I - S_i K_i)^{-1} S_i U_i d,   d = C^{-1} grad l_i / n,  W_i = C^{-1} U_i',  K_i = U_i W_i

(``S_i = diag(s_i)``). For a single output the factor is ``1 / (1 - h_i)`` with the generalized leverage
``h_i = s_i u_i' C^{-1} u_i / n``: for OLS ``h_i`` is the hat value and the corrected influence is the exact
deletion; for a GLM with the Fisher curvature it is the one-step approximation of R's ``dfbeta``. The rest of the
objective keeps its weights (the ``1/n`` and ``l2`` do not change when i is removed).
"""

from __future__ import annotations

import types
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, cast

import numpy as np
import pandas as pd

from .._validation import ConvergenceError, Correction, Style, as_enum
from .._warnings import warn_perfect_fit, warn_rows
from ..results import check_convention
from .curvature import Curvature, make_curvature
from .curvature.base import EPS
from .model import ModelView, as_model, batches
from .progress import Progress, ProgressArg
from .solvers import Solver, make_solver


def _largest_eigenvalue(M: np.ndarray) -> np.ndarray:
    """Largest (real part of the) eigenvalue of each of the ``(b, r, r)`` matrices ``M``."""
    return M[:, 0, 0].copy() if M.shape[1] == 1 else np.linalg.eigvals(M).real.max(axis=1)


#: largest number of parameters for which dfbetas forms the diagonal of the inverse curvature
COV_DIAG_LIMIT = 8192
#: largest number of parameters for which a run forms that diagonal with its result (``n_params`` more solves)
SE_AUTO_LIMIT = 256

__all__ = ["Damping", "InfluenceEngine", "EngineInfluence", "influence", "query_gradients"]


@dataclass(frozen=True)
class Damping:
    """Damping ``lambda`` added to the curvature: an absolute value, or a multiple of its mean eigenvalue.

    Parameters
    ----------
    value : float
        The damping (absolute) or its multiple of the mean eigenvalue (relative); finite, >= 0.
    kind : {"absolute", "relative"}
        How ``value`` is read.

    Examples
    --------
    >>> Damping.relative(1e-3).resolve(mean_eigenvalue=2.0)
    0.002
    """

    value: float
    kind: str = "absolute"

    def __post_init__(self) -> None:
        v = float(self.value)
        if not np.isfinite(v) or v < 0:
            raise ValueError(f"damping must be a finite number >= 0, got {self.value!r}")
        if self.kind not in ("absolute", "relative"):
            raise ValueError(f"damping kind must be 'absolute' or 'relative', got {self.kind!r}")

    @classmethod
    def absolute(cls, value: float) -> Damping:
        """``lambda = value``.

        Parameters
        ----------
        value : float
            The damping.

        Returns
        -------
        Damping
            Absolute damping.
        """
        return cls(value, "absolute")

    @classmethod
    def relative(cls, value: float) -> Damping:
        """``lambda = value * trace(C) / n_params``.

        Parameters
        ----------
        value : float
            The multiple of the mean eigenvalue.

        Returns
        -------
        Damping
            Relative damping.
        """
        return cls(value, "relative")

    def resolve(self, mean_eigenvalue: float) -> float:
        """The absolute damping for a curvature with this mean eigenvalue.

        Parameters
        ----------
        mean_eigenvalue : float
            ``trace(C) / n_params`` of the curvature.

        Returns
        -------
        float
            ``lambda``.
        """
        return float(self.value) * (mean_eigenvalue if self.kind == "relative" else 1.0)

    def __str__(self) -> str:
        return f"{self.value:g}" + (" x mean eigenvalue" if self.kind == "relative" else "")


def _as_damping(d: Any) -> Damping:
    if isinstance(d, Damping):
        return d
    if isinstance(d, (bool, str)) or not np.isscalar(d):
        raise ValueError(f"damping must be a number >= 0 or a Damping, got {d!r}")
    return Damping(float(cast(float, d)))


class InfluenceEngine:
    """Curvature and solver fitted to a model: the reusable core of :func:`influence` (and of ``regdiag.torch``).

    Parameters
    ----------
    model : Model or a regdiag fit
    curvature : {"exact", "gauss_newton", "kfac", "ekfac", "diagonal", "identity"} or Curvature
    solver : {"direct", "cg", "lissa", "lowrank"}
    damping : float >= 0 or Damping
    correction : {"none", "leverage"}
    batch_size : int, optional
        Observations per batch (default: about 2**22 numbers per batch).
    progress : bool or callable(stage, done, total), optional
    curvature_options, solver_options : dict, optional
        Passed to the curvature (``mc_samples``, ``seed``, ``of``) and the solver (``rtol``, ``max_iter``,
        ``preconditioner``, ``rank``, ``scale``).
    """

    def __init__(
        self,
        model: Any,
        curvature: Any = "exact",
        solver: str = "direct",
        damping: float | Damping = 0.0,
        correction: str = "none",
        *,
        batch_size: int | None = None,
        progress: ProgressArg = None,
        curvature_options: Mapping[str, Any] | None = None,
        solver_options: Mapping[str, Any] | None = None,
    ) -> None:
        damp = _as_damping(damping)
        self.correction = as_enum(Correction, correction, "correction")
        if batch_size is not None and (int(batch_size) != batch_size or batch_size < 1):
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.view = ModelView(as_model(model))
        self.bk = self.view.backend
        self.batch_size = batch_size
        self.progress = progress
        self.curvature: Curvature = make_curvature(
            curvature, self.view, batch_size=batch_size, progress=progress, **dict(curvature_options or {})
        )
        self.damping_spec = damp
        self.damping = damp.resolve(self.curvature.mean_eigenvalue() if damp.kind == "relative" else 1.0)
        self.solver: Solver = make_solver(solver, self.curvature, self.damping, progress=progress,
                                          **dict(solver_options or {}))
        self._max_leverage: list[np.ndarray] = []  # per batch of run(): largest generalized leverage of each row

    # ---- per batch -----------------------------------------------------------------------------------------------
    def leverage_terms(self, rows: slice, gauss_newton: bool = False) -> tuple[Any, np.ndarray, Any, np.ndarray]:
        """The pieces of the leverage correction of ``rows``: each observation's curvature term ``U_i' S_i U_i / n``
        (``U (b, r, P)``, ``S`` as ``s (b, r)``; with ``gauss_newton`` its Gauss-Newton term, ``S = I``),
        ``W = U (C + lambda I)^{-1}`` and ``S K`` with ``K = U W'`` (``(b, r, r)``: ``S K / n`` is the generalized
        leverage matrix).

        Parameters
        ----------
        rows : slice
            The observations.
        gauss_newton : bool
            Use each observation's Gauss-Newton term instead of its curvature term.

        Returns
        -------
        U : array of shape (b, r, n_params)
            The factors of the terms.
        s : ndarray of shape (b, r)
            Their weights.
        W : array of shape (b, r, n_params)
            ``U (C + lambda I)^{-1}``.
        SK : ndarray of shape (b, r, r)
            ``S K``.
        """
        bk, p = self.bk, self.view.p
        if gauss_newton:
            U = self.view.gn_factors(rows)
            s_np = np.ones(tuple(U.shape[:2]))
        else:
            U, s = self.curvature.example_factors(rows)
            s_np = bk.to_numpy(s)
        b, r = U.shape[0], U.shape[1]
        W = self.solver.solve(U.reshape(b * r, p)).reshape(b, r, p)
        SK = s_np[:, :, None] * bk.to_numpy(bk.einsum("brp,bqp->brq", U, W))
        return U, s_np, W, SK

    def max_leverage(self, rows: slice, gauss_newton: bool = False) -> np.ndarray:
        """``(b,)``: the largest eigenvalue of each observation's generalized leverage matrix ``S_i K_i / n`` (see
        :meth:`leverage_terms`). At most 1 when the curvature contains the observation's own term; above 1 the
        leverage correction ``(I - S_i K_i / n)^{-1}`` changes sign in some direction.

        Parameters
        ----------
        rows : slice
            The observations.
        gauss_newton : bool
            Use each observation's Gauss-Newton term instead of its curvature term.

        Returns
        -------
        ndarray of shape (b,)
            The largest eigenvalues.
        """
        return _largest_eigenvalue(self.leverage_terms(rows, gauss_newton)[3] / self.view.n)

    def delta(self, rows: slice, G: Any | None = None) -> tuple[Any, Any, np.ndarray | None, np.ndarray]:
        """Parameter influence of ``rows``: ``(delta (b, P), grad (b, P), leverage (b,) or None, undefined (b,))``.

        ``undefined`` marks rows whose corrected influence does not exist (the observation's leverage is 1).

        Parameters
        ----------
        rows : slice
            The observations.
        G : array of shape (b, n_params), optional
            Their loss gradients, when already computed.

        Returns
        -------
        delta : array of shape (b, n_params)
            Estimated ``theta_(-i) - theta``.
        grad : array of shape (b, n_params)
            The loss gradients.
        leverage : ndarray of shape (b,) or None
            Generalized leverages (with the leverage correction).
        undefined : ndarray of bool of shape (b,)
            Rows whose corrected influence does not exist.
        """
        bk, n = self.bk, self.view.n
        if G is None:
            G = self.view.loss_gradients(rows)
        D = self.solver.solve(G) * (1.0 / n)
        b = G.shape[0]
        undefined = np.zeros(b, dtype=bool)
        if self.correction is Correction.NONE:
            return D, G, None, undefined
        U, s_np, W, SK = self.leverage_terms(rows)
        r = U.shape[1]
        self._max_leverage.append(_largest_eigenvalue(SK / n))
        lev = np.trace(SK, axis1=1, axis2=2) / n
        M = n * np.eye(r)[None] - SK
        rhs = s_np * bk.to_numpy(bk.einsum("brp,bp->br", U, D))
        # (I - S K / n) singular <=> an eigenvalue of the leverage matrix S K / n is 1
        if r == 1:
            undefined = np.abs(M[:, 0, 0] / n) <= 1e3 * EPS
            with np.errstate(divide="ignore", invalid="ignore"):
                c = rhs / M[:, 0, :]
        else:
            sv = np.linalg.svd(M / n, compute_uv=False)
            undefined = sv[:, -1] <= 1e3 * EPS * np.maximum(sv[:, 0], 1.0)
            M[undefined] = np.eye(r)
            c = np.linalg.solve(M, rhs[:, :, None])[:, :, 0]
        c[undefined] = np.nan
        D = D + bk.einsum("brp,br->bp", W, bk.asarray(c, like=D))
        return D, G, lev, undefined

    def cov_unscaled_diag(self) -> np.ndarray:
        """``diag((C + lambda I)^{-1}) / n``: the unscaled coefficient variances of the engine's curvature
        (``diag((X'WX)^{-1})`` for OLS/GLM fits with the exact or Gauss-Newton curvature); one solve per parameter.

        Returns
        -------
        ndarray of shape (n_params,)
            The diagonal.

        Raises
        ------
        ValueError
            With more than :data:`COV_DIAG_LIMIT` parameters.
        """
        p = self.view.p
        if p > COV_DIAG_LIMIT:
            raise ValueError(f"dfbetas needs the diagonal of the inverse curvature, not formed for {p} parameters "
                             f"(more than {COV_DIAG_LIMIT}); use param_influence")
        bk = self.bk
        inv = bk.to_numpy(self.solver.solve(bk.eye(p, like=self.view.like)))
        return np.array(np.diag(inv), dtype=float) / self.view.n

    def run(self, standard_errors: bool | None = None) -> EngineInfluence:
        """Influence of every observation.

        Parameters
        ----------
        standard_errors : bool, optional
            Form :meth:`cov_unscaled_diag` with the result (what ``dfbetas``, the "R" and "statsmodels" frames and
            the flags need): ``None`` (default) does so up to :data:`SE_AUTO_LIMIT` parameters (not when an
            iterative solver does not converge on them). Later, ``result.with_standard_errors(engine)`` adds it.

        Returns
        -------
        EngineInfluence
            Every observation's influence, with how it was computed.
        """
        view, bk = self.view, self.bk
        n = view.n
        r = int(view.n_outputs or 1) if self.correction is Correction.LEVERAGE else 0
        size = self.batch_size or view.default_batch(1 + r)
        deltas, selfs, cooks, levs, undef = [], [], [], [], []
        self._max_leverage = []
        pr = Progress(self.progress, f"influence ({self.curvature.name}, {self.solver.name})", len(batches(n, size)))
        for rows in batches(n, size):
            D, G, lev, und = self.delta(rows)
            if und.any():
                keep = bk.asarray((~und).astype(float), like=D)[:, None]
                D = bk.where(keep > 0, D, 0.0) + bk.where(keep > 0, 0.0, float("nan"))
            CD = self.curvature.mv(bk.where(D == D, D, 0.0))
            deltas.append(bk.to_numpy(D))
            selfs.append(bk.to_numpy(bk.sum(G * D, axis=1)))
            cooks.append(bk.to_numpy(bk.sum(D * CD, axis=1)))
            if lev is not None:
                levs.append(lev)
            undef.append(und)
            pr.advance()
        delta = np.concatenate(deltas)
        und = np.concatenate(undef)
        quad = np.concatenate(cooks)
        disp = view.dispersion
        with np.errstate(divide="ignore", invalid="ignore"):
            cook = n * quad / (view.rank * disp) if disp > 0 else np.full(n, np.nan)
        cook[und] = np.nan
        if und.any():
            warn_rows(
                "the observation's generalized leverage is 1 (removing it leaves a direction without curvature): "
                "its leverage-corrected influence is NaN",
                view.index[und],
            )
        if self._max_leverage:
            over = np.concatenate(self._max_leverage) > 1.0 + 1e-8
            if over.any():
                other = ("more damping, the Gauss-Newton curvature (positive semi-definite, where a non-convex "
                         "model's exact Hessian need not be)" if self.curvature.name == "exact"
                         else "the exact or Gauss-Newton curvature, more damping")
                warn_rows(
                    f"the {self.curvature.name} curvature (with damping {self.damping:.3g}) is smaller than these "
                    "observations' own terms in some direction (generalized leverage above 1), so the leverage "
                    f"correction (I - K_i)^-1 changes the sign of their influence there: use {other}, or "
                    "correction='none' for these rows",
                    view.index[over],
                )
        if disp == 0:
            warn_perfect_fit("dispersion 0", "Cook's distance is NaN")
        model = view.model
        params = getattr(model, "params", None)
        info = dict(self.solver.info)  # of the influence's solves, before any other
        cud = None
        if standard_errors:
            cud = self.cov_unscaled_diag()
        elif standard_errors is None and view.p <= SE_AUTO_LIMIT:
            # an iterative solver that does not converge on these systems: not formed (asked for, it says so)
            with warnings.catch_warnings(record=True) as rec:
                warnings.simplefilter("always")
                try:
                    cud = self.cov_unscaled_diag()
                except ConvergenceError:
                    cud = None
            if rec:
                cud = None
        return EngineInfluence(
            param_influence=delta,
            self_influence=np.concatenate(selfs),
            cooks_distance=cook,
            leverage=np.concatenate(levs) if levs else None,
            params=None if params is None else np.array(bk.to_numpy(params) if not isinstance(params, np.ndarray)
                                                         else params, dtype=float),
            index=view.index,
            param_names=view.param_names,
            aliased=tuple(getattr(model, "aliased", ())),
            curvature=self.curvature.name,
            solver=self.solver.name,
            damping=self.damping,
            damping_spec=str(self.damping_spec),
            correction=self.correction.value,
            n_obs=n,
            rank=view.rank,
            dispersion=disp,
            info=types.MappingProxyType(info),
            cov_unscaled_diag=cud,
        )


@dataclass(frozen=True, eq=False, kw_only=True, slots=True)
class EngineInfluence:
    """Influence of every observation computed by the engine; records how. Plain data: reading a number solves
    nothing (the coefficient variances are formed with the result, or added by :meth:`with_standard_errors`; scores
    of new queries take the model's query gradients, :func:`query_gradients`).

    Attributes
    ----------
    param_influence : ndarray of shape (n_obs, n_params)
        ``theta_(-i) - theta`` as estimated (minus R's and statsmodels' ``dfbeta``).
    self_influence : ndarray of shape (n_obs,)
        ``grad l_i' delta_i``: the predicted change of observation i's own loss when it is removed
        (``grad l_i' C^{-1} grad l_i / n`` without correction).
    cooks_distance : ndarray of shape (n_obs,)
        Generalized Cook's distance ``n delta_i' C delta_i / (p phi)`` (``C`` undamped, ``p`` the rank, ``phi`` the
        dispersion): the squared norm of ``delta_i`` in the metric of the inverse covariance ``n C / phi``.
    leverage : ndarray of shape (n_obs,) or None
        Generalized leverage ``trace(S_i K_i) / n`` (with ``correction="leverage"``).
    params : ndarray of shape (n_params,) or None
    index : pandas.Index
    param_names : tuple of str
    aliased : tuple of str
        Columns of the fit left out (not estimable).
    curvature, solver : str
    damping : float
        Absolute damping used; ``damping_spec`` says how it was given.
    correction : str
    n_obs, rank : int
    dispersion : float
    info : mapping
        Solver diagnostics (iterations, residuals, condition number, ...).
    damping_spec : str
        The damping as given (a value, or a multiple of the mean eigenvalue).
    cov_unscaled_diag : ndarray of shape (n_params,) or None
        ``diag((C + lambda I)^{-1}) / n``, the unscaled coefficient variances of the curvature the engine used
        (``diag((X'WX)^{-1})`` for OLS/GLM fits with the exact or Gauss-Newton curvature); None when not formed
        (more than :data:`SE_AUTO_LIMIT` parameters, or ``run(standard_errors=False)``).
    """

    param_influence: np.ndarray
    self_influence: np.ndarray
    cooks_distance: np.ndarray
    leverage: np.ndarray | None
    params: np.ndarray | None
    index: pd.Index
    param_names: tuple[str, ...]
    aliased: tuple[str, ...] = ()
    curvature: str
    solver: str
    damping: float
    damping_spec: str
    correction: str
    n_obs: int
    rank: int
    dispersion: float
    info: Mapping[str, Any]
    cov_unscaled_diag: np.ndarray | None = None

    def __post_init__(self) -> None:
        for name in ("param_influence", "self_influence", "cooks_distance", "leverage", "params", "cov_unscaled_diag"):
            v = getattr(self, name)
            if isinstance(v, np.ndarray):
                v.flags.writeable = False

    def __reduce__(self) -> tuple[Any, tuple[dict[str, Any]]]:
        state = {f.name: getattr(self, f.name) for f in fields(self)}
        state["info"] = dict(self.info)
        return _rebuild_engine_influence, (state,)

    @property
    def method(self) -> str:
        """How the result was computed: ``engine:<curvature>/<solver>``, ``+leverage`` with the leverage correction."""
        tail = "+leverage" if self.correction == "leverage" else ""
        return f"engine:{self.curvature}/{self.solver}{tail}"

    @property
    def dfbeta(self) -> np.ndarray:
        """``theta - theta_(-i)`` (R's and statsmodels' sign), shape (n_obs, n_params)."""
        return -self.param_influence

    @property
    def loo_params(self) -> np.ndarray:
        """Estimated ``theta_(-i)``, shape (n_obs, n_params)."""
        if self.params is None:
            raise ValueError("the model gave no params")
        return self.params[None, :] + self.param_influence

    def with_standard_errors(self, engine: InfluenceEngine) -> EngineInfluence:
        """This result with :attr:`cov_unscaled_diag` formed by ``engine`` (the one that computed it).

        Parameters
        ----------
        engine : InfluenceEngine
            The engine of the run (``n_params`` solves with its curvature and solver).

        Returns
        -------
        EngineInfluence
            A new result; this one is unchanged.
        """
        if engine.view.p != len(self.param_names) or engine.view.n != self.n_obs:
            raise ValueError(f"the engine has {engine.view.n} observations and {engine.view.p} parameters, the result "
                             f"{self.n_obs} and {len(self.param_names)}: pass the engine that computed it")
        return replace(self, cov_unscaled_diag=engine.cov_unscaled_diag())

    def scores(self, query_grads: Any) -> np.ndarray:
        """Predicted change of each query's measurement when each observation is removed.

        Parameters
        ----------
        query_grads : array of shape (n_query, n_params)
            Gradients of each query's measurement (:func:`query_gradients` of the model: for OLS/GLM fits the
            loss of ``(X_query, y_query)`` or the prediction of a design).

        Returns
        -------
        ndarray of shape (n_query, n_obs)
            ``grad m_q' delta_i``: positive when removing observation i increases the query's measurement.
        """
        G = np.asarray(query_grads, dtype=float)
        p = len(self.param_names)
        if G.ndim != 2 or G.shape[1] != p:
            raise ValueError(f"query gradients must have shape (n_query, {p}), got {G.shape}")
        return G @ self.param_influence.T

    def relatif(self, query_grads: Any, kind: str = "theta") -> np.ndarray:
        """RelatIF-style normalized scores (Barshan et al., 2020), shape (n_query, n_obs).

        ``kind="theta"``: ``scores / ||delta_i||`` (effect per unit of parameter change);
        ``kind="loss"``: ``scores / sqrt(self_influence_i)`` (effect relative to i's effect on its own loss).
        Both down-weight observations whose influence is large on everything (outliers with large gradients).

        Parameters
        ----------
        query_grads : array of shape (n_query, n_params)
            Gradients of the queries' measurement (see :meth:`scores`).
        kind : {"theta", "loss"}
            The normalization.

        Returns
        -------
        ndarray of shape (n_query, n_obs)
            The normalized scores (NaN where the norm is 0).
        """
        s = self.scores(query_grads)
        if kind == "theta":
            norm = np.linalg.norm(self.param_influence, axis=1)
        elif kind == "loss":
            norm = np.sqrt(np.clip(self.self_influence, 0.0, None))
        else:
            raise ValueError(f"kind={kind!r} is not one of 'theta', 'loss'")
        with np.errstate(divide="ignore", invalid="ignore"):
            out = s / norm[None, :]
        out[:, ~(norm > 0)] = np.nan
        return out

    # ---- the closed form's vocabulary: dfbetas, frames in the peers' names, flags ------------------------------
    @property
    def dfbetas(self) -> np.ndarray:
        """``dfbeta_ij / sqrt(phi [(C + lambda I)^{-1}]_jj / n)``: DFBETA over the full fit's standard errors
        (statsmodels' GLM convention; the closed form's OLS ``dfbetas`` divide by the leave-one-out sigma, which the
        engine does not estimate). Shape (n_obs, n_params)."""
        from ..results import standardize_dfbeta

        if self.cov_unscaled_diag is None:
            raise ValueError(f"dfbetas needs the coefficient variances, not formed with this result "
                             f"({len(self.param_names)} parameters, more than {SE_AUTO_LIMIT}): use "
                             "result.with_standard_errors(engine) (InfluenceEngine(...).run() gives both)")
        phi = np.full(self.n_obs, np.sqrt(self.dispersion))
        return standardize_dfbeta(self.dfbeta, phi, self.cov_unscaled_diag)

    def dfbeta_as(self, convention: str = "regdiag") -> np.ndarray:
        """:attr:`dfbeta` under ``convention``.

        Parameters
        ----------
        convention : {"regdiag", "R", "statsmodels"}
            Any of the three: the engine estimates one change, which every convention names DFBETA.

        Returns
        -------
        ndarray of shape (n_obs, n_params)
            ``b - b_(i)``.
        """
        check_convention(convention, "the engine's dfbeta", allowed=(Style.REGDIAG, Style.R, Style.STATSMODELS))
        return self.dfbeta

    def dfbetas_as(self, convention: str = "regdiag") -> np.ndarray:
        """:attr:`dfbetas` under ``convention``.

        Parameters
        ----------
        convention : {"regdiag", "R", "statsmodels"}
            Any of the three: the engine's are over the full fit's standard errors, the columns of its frames in
            every style.

        Returns
        -------
        ndarray of shape (n_obs, n_params)
            ``dfbeta`` over the full fit's standard errors.
        """
        check_convention(convention, "the engine's dfbetas", allowed=(Style.REGDIAG, Style.R, Style.STATSMODELS))
        return self.dfbetas

    def to_frame(self, style: str = "regdiag") -> pd.DataFrame:
        """One row per observation, indexed like the data.

        Parameters
        ----------
        style : {"regdiag", "R", "statsmodels"}
            "regdiag": ``self_influence``, ``cooks_distance``, ``leverage`` (with ``correction="leverage"``), then
            ``param_influence_<name>``. "R" and "statsmodels": the columns of R's ``influence.measures`` and of
            statsmodels' ``summary_frame()`` that the engine computes — ``dfb.*``/``dfb_*`` (:attr:`dfbetas`),
            ``cook.d``/``cooks_d`` and ``hat``/``hat_diag`` (with the leverage correction). The measures built on
            studentized residuals (DFFITS, COVRATIO, standardized residuals) exist only in closed form
            (``fit.influence()``). ``.attrs`` records the method and damping.

        Returns
        -------
        pandas.DataFrame
            One row per observation.
        """
        from ..results import r_dfb_names

        st = as_enum(Style, style, "style")
        data: dict[str, np.ndarray] = {}
        if st is Style.R:
            dfbs = self.dfbetas
            data.update({a: dfbs[:, j] for j, a in enumerate(r_dfb_names(self.param_names))})
            data["cook.d"] = self.cooks_distance
            if self.leverage is not None:
                data["hat"] = self.leverage
        elif st is Style.STATSMODELS:
            dfbs = self.dfbetas
            data.update({f"dfb_{nm}": dfbs[:, j] for j, nm in enumerate(self.param_names)})
            data["cooks_d"] = self.cooks_distance
            if self.leverage is not None:
                data["hat_diag"] = self.leverage
        elif st is Style.REGDIAG:
            data = {"self_influence": self.self_influence, "cooks_distance": self.cooks_distance}
            if self.leverage is not None:
                data["leverage"] = self.leverage
            for j, nm in enumerate(self.param_names):
                data[f"param_influence_{nm}"] = self.param_influence[:, j]
        else:
            raise ValueError(f"style={style!r}: the engine's results have styles 'regdiag', 'R' and 'statsmodels'")
        frame = pd.DataFrame(data, index=self.index)
        frame.attrs.update(method=self.method, damping=self.damping)
        return frame

    def flags(self, rule: str | Sequence[str] = "R") -> pd.DataFrame:
        """Which observations each criterion flags, as the closed form's ``flags`` (same rules and cut-offs, ``p``
        the rank, ``n`` the observations in the fit; for rule "R" those with positive leverage, as R counts, and
        R's column names ``dfb.*``, ``cook.d``, ``hat``), for the criteria on measures the engine computes: DFBETAS
        (:attr:`dfbetas`, over the full fit's standard errors), Cook's distance, and leverage (with
        ``correction="leverage"``). Criteria on studentized residuals, DFFITS or COVRATIO are left out;
        ``.attrs["left_out"]`` names them.

        Parameters
        ----------
        rule : str or sequence of str
            A rule name (``"R"``, ``"statsmodels"``, ...) or criterion names, as the closed form's ``flags``.

        Returns
        -------
        pandas.DataFrame of bool
            One column per criterion, one row per observation.
        """
        from ..measures import select_criteria
        from ..results import flag_frame

        crits = select_criteria(rule)
        available = {"dfbetas", "cooks_distance"} | ({"leverage"} if self.leverage is not None else set())
        # n as the closed form counts it: observations in the fit (for rule "R", as R's sum(h > 0), rows with
        # positive leverage when it was computed); a row with zero weight has no gradient and no influence
        in_fit = np.any(self.param_influence != 0, axis=1) | (self.self_influence != 0)
        is_r = isinstance(rule, str) and rule == "R"
        n = int(np.count_nonzero(self.leverage > 0)) if is_r and self.leverage is not None else int(in_fit.sum())
        frame = flag_frame([c for c in crits if c.measure in available], lambda m: getattr(self, m),
                           self.param_names, self.rank, n, self.index, is_r)
        frame.attrs.update(left_out=[c.name for c in crits if c.measure not in available], method=self.method)
        return frame

    def flagged(self, rule: str | Sequence[str] = "R") -> pd.DataFrame:
        """The observations flagged by ``rule`` (see :meth:`flags`), with Cook's distance and the criteria.

        Parameters
        ----------
        rule : str or sequence of str
            A rule name (``"R"``, ``"statsmodels"``, ...) or criterion names, as the closed form's ``flags``.

        Returns
        -------
        pandas.DataFrame
            The flagged observations only.
        """
        fl = self.flags(rule)
        hit = fl.fillna(False).astype(bool)
        mask = hit.any(axis=1).to_numpy()
        out = pd.DataFrame({"cooks_distance": self.cooks_distance}, index=self.index)
        if self.leverage is not None:
            out["leverage"] = self.leverage
        H = hit.to_numpy()
        out["flagged_by"] = [", ".join(c for c, h in zip(hit.columns, row) if h) for row in H]
        return out[mask]

    def __repr__(self) -> str:
        return (
            f"<EngineInfluence {self.method} damping={self.damping:g} n_obs={self.n_obs} "
            f"params={list(self.param_names)}>"
        )


def _rebuild_engine_influence(state: dict[str, Any]) -> EngineInfluence:
    """An :class:`EngineInfluence` from its pickled fields (its ``info`` as a read-only mapping again)."""
    return EngineInfluence(**{**state, "info": types.MappingProxyType(dict(state["info"]))})


def influence(
    fit_or_model: Any,
    curvature: Any = "exact",
    solver: str = "direct",
    damping: float | Damping = 0.0,
    correction: str = "none",
    **options: Any,
) -> EngineInfluence:
    """Influence of every observation by the second-order engine.

    Parameters
    ----------
    fit_or_model : regdiag fit (OLS/WLS, GLM) or Model
        A fit is adapted with :func:`regdiag.engine.model.as_model`; anything else must follow the
        :class:`~regdiag.engine.model.Model` protocol.
    curvature : {"exact", "gauss_newton", "kfac", "ekfac", "diagonal", "identity"}
    solver : {"direct", "cg", "lissa", "lowrank"}
    damping : float >= 0 or Damping
        Added to the curvature's eigenvalues; ``Damping.relative(r)`` adds ``r`` times the mean eigenvalue.
    correction : {"none", "leverage"}
        "none": the influence-function estimate ``C^{-1} grad l_i / n``; "leverage": the Newton step with i's own
        term removed from the curvature (exact deletion for OLS; R's one-step ``dfbeta`` for GLMs with the Fisher
        curvature).
    **options
        ``batch_size``, ``progress``, ``curvature_options``, ``solver_options`` (see :class:`InfluenceEngine`).

    Returns
    -------
    EngineInfluence

    Notes
    -----
    ``delta_i = theta_(-i) - theta ~ (C + lambda I)^{-1} grad l_i / n`` for the mean objective; see the module
    docstring for the leverage correction.

    Examples
    --------
    >>> import numpy as np, regdiag
    >>> fit = regdiag.ols("sr ~ pop15 + pop75 + dpi + ddpi", data=regdiag.datasets.load("LifeCycleSavings"))
    >>> eng = regdiag.engine.influence(fit, correction="leverage")
    >>> bool(np.allclose(eng.dfbeta, fit.influence().dfbeta, rtol=1e-10, atol=1e-14))
    True
    """
    return InfluenceEngine(fit_or_model, curvature, solver, damping, correction, **options).run()


def query_gradients(fit_or_model: Any, query: Any, measurement: str = "loss") -> np.ndarray:
    """Gradients of each query's measurement at the fitted parameters, for :meth:`EngineInfluence.scores`.

    Parameters
    ----------
    fit_or_model : regdiag fit (OLS/WLS, GLM) or Model
        The model the influence was computed for.
    query : object
        The queries, in the form the model takes (for a regdiag fit: ``(X_query, y_query)``, design rows or a
        DataFrame of the formula's variables and responses, or, for ``"prediction"``, the query design).
    measurement : {"loss", "prediction"}
        The query's loss (default), or its prediction (the linear predictor for OLS/GLM).

    Returns
    -------
    ndarray of shape (n_query, n_params)
        One row per query.

    Examples
    --------
    >>> import regdiag
    >>> df = regdiag.datasets.load("LifeCycleSavings")
    >>> fit = regdiag.ols("sr ~ pop15 + pop75 + dpi + ddpi", data=df)
    >>> res = regdiag.engine.influence(fit)
    >>> res.scores(regdiag.engine.query_gradients(fit, (df.iloc[:2], df["sr"].to_numpy()[:2]))).shape
    (2, 50)
    """
    view = ModelView(as_model(fit_or_model))
    return np.asarray(view.backend.to_numpy(view.query_gradients(query, measurement)), dtype=float)
