"""The engine against the closed form, as a table: how far each curvature and solver is from what theory says.

For a fit with closed-form influence (OLS/WLS, GLM), the engine's ``correction="leverage"`` result should equal the
closed-form DFBETA wherever the curvature equals the one behind the closed form (``X'WX``: the exact Hessian and
Gauss-Newton matrix for OLS; the Fisher information, i.e. the Gauss-Newton matrix, for a GLM; K-FAC/EK-FAC where the
per-observation output curvature per unit case weight is constant), and the plain estimate should equal
``(1 - h_i) DFBETA_i``. Each row of :func:`cross_check` gives the largest relative discrepancy, what theory expects,
and a rounding tolerance derived from the conditioning.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from .._validation import ConvergenceError, CurvatureKind, DesignError, InfluenceWarning, ModelError, SolverKind
from ..protocols import Fit, ModelKind, model_kind
from ..results import Influence
from .curvature.base import EPS
from .influence import EngineInfluence, influence
from .model import CoxModel, OutputJacobianModel, SingleIndexModel, as_model

if TYPE_CHECKING:
    pass

__all__ = ["cross_check", "relative_discrepancy"]


def relative_discrepancy(a: np.ndarray, b: np.ndarray) -> float:
    """``max_j max_i |a_ij - b_ij| / max_i |b_ij|``: the largest error of each column relative to its scale.

    Parameters
    ----------
    a : ndarray of shape (n,) or (n, k)
        The values checked.
    b : ndarray of the shape of ``a``
        The reference; a column of zeros is its own scale of 1 (its error is absolute).

    Returns
    -------
    float
        The largest relative error over the columns (NaN where a value is NaN).
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.ndim == 1:
        a, b = a[:, None], b[:, None]
    scale = np.max(np.abs(b), axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        col = np.max(np.abs(a - b), axis=0) / np.where(scale > 0, scale, 1.0)
    return float(np.max(col))


def _theory(model: SingleIndexModel | OutputJacobianModel, curvature: str, correction: str) -> tuple[bool, str]:
    """Whether the engine should equal the closed form for this curvature, and why."""
    if getattr(model, "closed_form_observed", False):  # robust and discrete fits: Newton steps, observed curvature
        target = "the one-step deletion" if correction == "leverage" else "(1 - h) x the one-step deletion"
        if correction == "none" and (getattr(model, "n_outputs", 1) or 1) > 1:
            return False, "several outputs: the plain estimate is (I - A_i L_i) times the one-step deletion"
        if curvature == "exact":
            return True, f"the observed information, as the closed form: equals {target}"
        if curvature == "gauss_newton":
            return True, f"Gauss-Newton with the observed output curvature (where it is not negative): equals {target}"
        if curvature in ("kfac", "ekfac", "diagonal"):
            return False, "approximation of the curvature"
        return False, "no curvature (gradient dot products): scale arbitrary"
    kind = "OLS" if model.observed_is_expected and model.unit_curvature_constant else "GLM"
    conv = "exact deletion" if kind == "OLS" else "the Pearson one-step dfbeta (R's dfbeta.glm: deviance residuals)"
    target = conv if correction == "leverage" else f"(1 - h) x {conv}"
    if curvature == "gauss_newton":
        return True, f"Gauss-Newton = X'WX (the Fisher information): equals {target}"
    if curvature == "exact":
        if model.observed_is_expected:
            return True, f"observed = expected information here: equals {target}"
        return False, "observed information (the true Newton step); the closed form uses the expected (Fisher)"
    if curvature in ("kfac", "ekfac"):
        if model.unit_curvature_constant:
            return True, f"one linear layer with output curvature proportional to the case weight: exact, {target}"
        return False, "approximation: the Kronecker factors average the per-observation weights"
    if curvature == "diagonal":
        return False, "approximation: ignores the off-diagonal curvature"
    return False, "no curvature (gradient dot products): scale arbitrary"


def conditioning(H: np.ndarray) -> tuple[float, float]:
    """Condition numbers of a curvature matrix: as it is, and with its diagonal equilibrated to ones.

    Parameters
    ----------
    H : ndarray of shape (p, p)
        A symmetric positive definite matrix.

    Returns
    -------
    cond : float
        Ratio of its largest to its smallest eigenvalue.
    cond_equilibrated : float
        The same of ``D^(-1/2) H D^(-1/2)``, ``D`` its diagonal.
    """
    ev = np.linalg.eigvalsh(H)
    d = np.sqrt(np.diag(H))
    ev_eq = np.linalg.eigvalsh(H / d[:, None] / d[None, :])
    return float(ev[-1] / ev[0]), float(ev_eq[-1] / ev_eq[0])


#: the largest discrepancy an iterative solve may show and still "agree": its stopping rule only bounds the error by
#: rtol x cond, which on an ill-conditioned design says nothing useful
ITERATIVE_TOL_CAP = 1e-6


def _tolerance(res: EngineInfluence, cond_eq: float, cond_raw: float, options: dict[str, Any]) -> float:
    """The discrepancy allowed for an exact relation: ``eps`` times the condition number the method is sensitive to
    (the Kronecker eigenvectors are accurate to the equilibrated conditioning); for CG and LiSSA, the bound their
    stopping rule gives, ``10 rtol cond``, capped at ``ITERATIVE_TOL_CAP``."""
    if res.solver == "direct":
        return 1e3 * EPS * cond_eq
    if res.solver in ("cg", "lissa"):
        rtol = options.get("rtol", 1e-10 if res.solver == "cg" else 1e-8)
        return max(min(10.0 * rtol * cond_raw, ITERATIVE_TOL_CAP), 1e3 * EPS * cond_eq)
    return 1e3 * EPS * cond_raw


#: the columns of :func:`cross_check`'s table, in order
COLUMNS = (
    "curvature", "solver", "correction", "param_influence", "dfbeta", "cooks_distance", "expected", "tolerance",
    "agrees", "theory", "status",
)


def engine_run(
    model: Any, curvature: str, solver: str, correction: str, damping: float, options: dict[str, Any]
) -> tuple[EngineInfluence | None, str]:
    """One engine run of a cross-check table: ``(result, "ok")``, or ``(None, why it gave no result)``.

    The engine's warnings are silenced: the table itself reports how far each approximation is, and its warnings
    would only repeat it.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InfluenceWarning)
            res = influence(model, curvature, solver, damping=damping, correction=correction, solver_options=options)
    except (ConvergenceError, DesignError, ModelError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    return res, "ok"


def failed_run(measures: Sequence[str], status: str) -> dict[str, Any]:
    """A cross-check row's values for a run that gave no result: NaN ``measures``, ``agrees`` NA and ``status``."""
    return {**dict.fromkeys(measures, np.nan), "agrees": pd.NA, "status": status}


@dataclass(frozen=True, eq=False)
class _ClosedForm:
    """The closed-form measures the engine is compared with, on the rows where they are defined.

    Attributes
    ----------
    dfbeta : ndarray of shape (n_defined, n_params)
        DFBETA on the engine model's parameters.
    leverage : ndarray of shape (n_defined,)
        Leverage of the Newton step.
    cooks : ndarray of shape (n_defined,)
    rows : ndarray of bool, shape (n_obs,)
        The rows kept (finite measures, leverage below 1).
    cooks_comparable : bool
        Whether Cook's distance is measured in the curvature (not for robust regression).
    """

    dfbeta: np.ndarray
    leverage: np.ndarray
    cooks: np.ndarray
    rows: np.ndarray
    cooks_comparable: bool


def _closed_form(fit: Any, model: Any) -> _ClosedForm:
    """The closed-form one-step measures of ``fit`` that :func:`cross_check` compares ``model``'s engine runs with."""
    # fits with an exact deletion by default (robust, discrete) are checked against their one-step measures: the
    # engine's leverage-corrected Newton step is the one-step deletion
    one_step = model_kind(fit) in (ModelKind.RLM, ModelKind.MLE)
    cf = cast(Influence, fit.influence(loo="one-step") if one_step else fit.influence())
    names = list(cf.param_names)
    cols = [names.index(nm) for nm in model.param_names]
    dfb = np.asarray(cf.dfbeta, dtype=float)[:, cols]
    # the leverage of the Newton step (robust fits: psi'_i x_i'(X'DX)^{-1} x_i, not the weighted fit's hat value)
    h = np.asarray(getattr(cf, "leverage_newton", cf.leverage), dtype=float)
    cook = np.asarray(cf.cooks_distance, dtype=float)
    ok = np.isfinite(dfb).all(axis=1) & np.isfinite(cook) & np.isfinite(h) & (h < 1)
    # robust regression measures Cook's distance in its robust covariance tau^2 (X'X)^{-1}, not in the curvature
    return _ClosedForm(dfb[ok], h[ok], cook[ok], ok, getattr(model, "cooks_comparable", True))


def _discrepancies(
    res: EngineInfluence, closed: _ClosedForm, correction: str, exact: bool, tol: float, plain_expected: float
) -> dict[str, Any]:
    """One engine run against the closed form: the discrepancies, what theory expects and whether they agree
    (``exact``: the relation is exact and undamped, so agreement is decided; else ``agrees`` is NA)."""
    dfb, h = closed.dfbeta, closed.leverage
    pinf = res.param_influence[closed.rows]
    factor = 1.0 if correction == "leverage" else (1.0 - h)
    ref_param = -dfb * np.asarray(factor)[..., None] if correction == "none" else -dfb
    ref_cook = closed.cooks * (np.asarray(factor) ** 2)
    disc_param = relative_discrepancy(pinf, ref_param)
    disc_dfb = relative_discrepancy(-pinf, dfb)
    disc_cook = (
        relative_discrepancy(res.cooks_distance[closed.rows], ref_cook) if closed.cooks_comparable else np.nan
    )
    if exact:
        expected = 0.0 if correction == "leverage" else plain_expected
        agrees: Any = bool(
            np.nanmax([disc_param, disc_cook]) <= tol and abs(disc_dfb - expected) <= tol + 1e-8 * expected
        )
    else:
        expected, agrees = np.nan, pd.NA
    return dict(param_influence=disc_param, dfbeta=disc_dfb, cooks_distance=disc_cook, expected=expected,
                agrees=agrees)


def cross_check(
    fit: Fit,
    curvatures: Sequence[str] | None = None,
    solvers: Sequence[str] | None = None,
    corrections: Sequence[str] = ("none", "leverage"),
    damping: float = 0.0,
    solver_options: dict[str, dict[str, Any]] | None = None,
    runs: dict[tuple[str, str, str], EngineInfluence] | None = None,
) -> pd.DataFrame:
    """Largest relative discrepancy between the engine and the closed form, per curvature, solver and correction.

    Parameters
    ----------
    fit : OLSFit, GLM fit or CoxFit
        A Cox fit is checked against R's one-step ``dfbeta`` (:func:`regdiag.engine.crosscheck_cox.cross_check_cox`).
    curvatures, solvers : sequences of str, optional
        Default: all six curvatures and all four solvers.
    corrections : sequence of {"none", "leverage"}
        Corrections to run, each with every curvature and solver.
    damping : float
        Damping for every run (0 compares with the closed form exactly).
    solver_options : dict, optional
        Per solver name, options for it (e.g. ``{"lissa": {"max_iter": 50000}}``).
    runs : dict, optional
        Filled with every engine result that ran, keyed ``(curvature, solver, correction)`` (the report draws its
        engine plots from them instead of running the engine again).

    Returns
    -------
    pandas.DataFrame
        One row per run: ``curvature``, ``solver``, ``correction``; the discrepancies ``param_influence`` (against
        the closed form of the same convention: ``-dfbeta`` with the leverage correction, ``-(1 - h) dfbeta``
        without), ``dfbeta`` (against the closed-form DFBETA whatever the correction) and ``cooks_distance``
        (against Cook's distance, times ``(1 - h)^2`` without correction); ``expected`` (what theory says the
        ``dfbeta`` discrepancy is: 0 for an exact relation, ``max |h_i dfbeta_ij| / max |dfbeta_ij|`` for the plain
        estimate, NaN for an approximation), ``tolerance`` (rounding allowed for an exact relation), ``agrees``,
        ``theory`` and ``status`` ("ok", or why the run gave no result). Relative discrepancy of a column is
        ``max_i |engine - closed| / max_i |closed|``; the largest over columns is shown. Rows with undefined closed
        form (zero weight, leverage 1) are left out.
    """
    model = as_model(fit)
    if isinstance(model, CoxModel):  # no closed-form deletion: against R's one-step dfbeta (crosscheck_cox)
        from .crosscheck_cox import cross_check_cox

        return cross_check_cox(model, curvatures, solvers, corrections, damping, solver_options)
    if not isinstance(model, (SingleIndexModel, OutputJacobianModel)):
        raise TypeError(f"cross_check needs a regdiag OLS, GLM, robust or discrete-model fit, got {type(fit).__name__}")
    closed = _closed_form(fit, model)
    plain_expected = relative_discrepancy(closed.dfbeta * (1.0 - closed.leverage)[:, None], closed.dfbeta)

    if model.observed_is_expected or not isinstance(model, SingleIndexModel):
        H = model.hessian()
    else:
        H = (model.X.T * model.fisher) @ model.X / model.n_obs
    cond_raw, cond_eq = conditioning(H)

    curvatures = [c.value for c in CurvatureKind] if curvatures is None else list(curvatures)
    solvers = [s.value for s in SolverKind] if solvers is None else list(solvers)
    solver_options = solver_options or {}
    rows = []
    unsolved: dict[tuple[str, str], str] = {}  # a solve that did not converge fails for every correction
    for cur, sol, cor in itertools.product(curvatures, solvers, corrections):
        exact, why = _theory(model, cur, cor)
        row: dict[str, Any] = {"curvature": cur, "solver": sol, "correction": cor, "theory": why}
        opts = dict(solver_options.get(sol, {}))
        if (cur, sol) in unsolved:  # the correction only rescales the solved vectors: the same solve, not rerun
            res, status = None, unsolved[(cur, sol)]
        else:
            res, status = engine_run(model, cur, sol, cor, damping, opts)
            if res is None and status.startswith(ConvergenceError.__name__):
                unsolved[(cur, sol)] = status
        if res is None:
            row.update(failed_run(("param_influence", "dfbeta", "cooks_distance", "expected", "tolerance"), status))
            rows.append(row)
            continue
        if runs is not None:
            runs[(cur, sol, cor)] = res
        tol = _tolerance(res, cond_eq, cond_raw, opts)
        row.update(_discrepancies(res, closed, cor, exact and damping == 0, tol, plain_expected))
        row.update(tolerance=tol if exact else np.nan, status=status)
        rows.append(row)
    frame = pd.DataFrame(rows)[list(COLUMNS)]
    frame["agrees"] = frame["agrees"].astype("boolean")
    frame.attrs.update(n_compared=int(closed.rows.sum()), cond=float(cond_raw), cond_equilibrated=float(cond_eq),
                       damping=damping)
    return frame
