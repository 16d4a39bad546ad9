"""GLM influence measures in closed form from the QR of ``W^(1/2) X`` at convergence, and group deletion.

Notation: ``Q R`` the (column-scaled, pivoted) QR of ``W^(1/2) X`` with the working weights ``W``; ``h_i = ||Q_i||^2``
the leverage; ``r_P`` Pearson and ``d`` deviance residuals (with prior weights); ``phi`` the dispersion; ``p`` the
rank; ``n`` the number of observations with positive weight.

One-step deletion (Pregibon 1981; Williams 1987): deleting observation ``i`` and taking one Fisher-scoring step from
``b`` gives ``b - b_(i) = (X'WX)^{-1} x_i W_i z_i / (1 - h_i)`` with ``z_i = (y_i - mu_i) / mu'(eta_i)`` the working
residual; ``W_i^(1/2) z_i = s r_P,i`` is the Pearson residual times the sign ``s`` of ``dmu/deta`` (-1 for the
decreasing inverse and 1/mu^2 links). It is computed as row ``i`` of ``Q R^{-T}`` times ``s r_P,i / (1 - h_i)``: one
triangular solve with ``n`` right-hand sides, no ``n x n`` matrix. R's ``dfbeta.glm`` uses the deviance residual
``d_i`` in place of ``s r_P,i`` and statsmodels' ``d_params`` uses ``r_P,i``: both drop the sign ``s``, so for the
decreasing links their one-step change points away from the exact leave-one-out change.

DFBETAS: the one-step (or exact) change over the coefficient's standard error with the dispersion of the fit
without the observation, ``dfbeta_ij / (sqrt(phi_(i)) sqrt([(X'WX)^{-1}]_jj))``. ``phi_(i)`` is the dispersion
itself where it is fixed (1 for binomial and Poisson, or the value given to the fit: there is nothing to re-estimate)
and otherwise Pearson's chi-square without observation ``i`` over ``n - p - 1``: one-step
``(X^2 - r_P,i^2 / (1 - h_i)) / (n - p - 1)`` (deleting a row from the last IRLS step's weighted least-squares problem,
whose weighted residuals are the Pearson residuals), or that of the exact leave-one-out fit. This is statsmodels' and
SAS's DFBETAS for binomial and Poisson models (for an increasing link) and the linear model's for the Gaussian family
with identity link. R's ``dfbetas`` for ``glm`` divides its deviance-residual change by the deletion sigma of the
deviance residuals, whatever the family: ``residual="deviance"`` gives exactly that (``sigma_loo``), and
``GLMInfluence.dfbetas_as("R")`` (used by ``flags(rule="R")``, R's ``is.inf``) is R's in every case.

Observed information (``observed=True``): with ``w_o,i = W_i c_i`` the observed-information weights
(``c_i = 1 + (y_i - mu_i)(V g'' + V' g')/(V g')``, 1 for canonical links) and ``M = Q' diag(c) Q``,
``X' diag(w_o) X = R' M R``, so the leverage is ``h_i = c_i Q_i M^{-1} Q_i'`` and the one-step Newton change is
row ``i`` of ``Q M^{-1} R^{-T}`` times ``r_i / (1 - h_i)``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import linalg as sla

from .. import measures
from .._validation import DesignError
from .._warnings import warn_leverage_one, warn_not_converged, warn_rows, warn_zero_weight
from ..results import GLMInfluence, GroupInfluence
from .glm_exact import exact_deletion

if TYPE_CHECKING:  # pragma: no cover
    from .glm import GLMFit

__all__ = [
    "glm_influence", "glm_group_deletion", "one_step_measures", "deleted_response_resid", "GLMRows",
    "assemble_influence",
]

#: the leave-one-out methods of a GLM's influence (``loo=``)
LOO_METHODS = ("one-step", "exact")
_ROWS = 1 << 14
#: the residuals a GLM's studentized residuals and Cook's distance are built from (``residual=``)
RESIDUAL_KINDS = ("pearson", "deviance")


def check_choice(value: str, choices: tuple[str, ...], what: str) -> str:
    """``value`` normalised (lower case, ``_`` as ``-``) if it is one of ``choices``; else a ValueError naming
    ``what``."""
    if isinstance(value, str) and value.lower().replace("_", "-") in choices:
        return value.lower().replace("_", "-")
    raise ValueError(f"{what}={value!r} is not one of {', '.join(map(repr, choices))}")


def _observed_factor(fit: GLMFit):
    """Leverage under the observed information and a factor whose ``row_solve`` gives rows of ``Q M^{-1} R^{-T}``."""
    f = fit.factor
    c = np.where(fit.positive, fit.family.observed_ratio(fit.y, fit.mu), 0.0)
    M = f.q.T @ (f.q * c[:, None])
    try:
        L = np.linalg.cholesky(M)
    except np.linalg.LinAlgError:
        raise DesignError(
            "the observed information is not positive definite at this fit, so observed=True is undefined; use "
            "the expected information (observed=False)"
        ) from None
    V = sla.solve_triangular(L, f.q.T, lower=True).T  # Q L^{-T}: rows v_i with ||v_i||^2 = Q_i M^{-1} Q_i'
    h = c * np.einsum("ij,ij->i", V, V)
    qm = sla.solve_triangular(L, V.T, lower=True, trans="T").T  # Q M^{-1}
    return h, dataclasses.replace(f, q=np.asfortranarray(qm))


def _link_sign(fit: GLMFit) -> float:
    """+1 for an increasing link, -1 for a decreasing one (inverse, 1/mu^2): the sign of ``dmu/deta``."""
    me = fit.family.link.mu_eta(fit.eta[fit.positive])
    return -1.0 if me.size and np.all(me < 0) else 1.0


def one_step_measures(
    rows_factor: Any,
    h: np.ndarray,
    e_p: np.ndarray,
    e_d: np.ndarray,
    sign: float,
    undefined: np.ndarray,
    *,
    family: Any,
    phi: float,
    df: float,
    dev_sum: float,
    residual: str = "pearson",
) -> dict[str, np.ndarray]:
    """R's one-step GLM measures of the rows of ``rows_factor.q`` (all rows of a fit, or one block of them).

    Parameters
    ----------
    rows_factor : QRFactor
        Factorization whose ``row_solve`` gives the rows' ``(X'WX)^{-1} x_i W_i^(1/2)`` (a block of rows is enough).
    h, e_p, e_d : ndarray of shape (n_rows,)
        Leverage, Pearson and deviance residuals.
    sign : float
        Sign of ``dmu/deta``.
    undefined : ndarray of bool, shape (n_rows,)
        Rows whose deletion measures are NaN.
    family : Family
    phi, df, dev_sum : float
        The whole fit's dispersion, residual degrees of freedom and ``sum d^2``.
    residual : {"pearson", "deviance"}
        Residual of ``dfbeta``.

    Returns
    -------
    dict
        ``sigma_loo``, ``standard_resid`` (deviance), ``standard_resid_pearson``, ``student_resid`` (likelihood
        residual), ``cooks_distance``, ``dffits``, ``cov_ratio``, ``dfbeta`` (of ``residual``), ``dfbeta_one_step``
        (Pearson) and ``negative_sigma`` (rows where R's deletion sigma is undefined); formulas in
        :meth:`regdiag.linear.glm.GLMFit.influence`.
    """
    p = rows_factor.rank
    s = np.sqrt(dev_sum / df) if df > 0 else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        one_minus = 1.0 - h
        num = dev_sum - e_d**2 / one_minus
        sig = np.sqrt(num / (df - 1.0)) if df > 1 else np.full_like(h, np.nan)
        negative = num < 0
        sig[negative] = np.nan
        std_dev = e_d / np.sqrt(phi * one_minus)
        std_pea = e_p / np.sqrt(phi * one_minus)
        lik = np.sign(e_d) * np.sqrt(e_d**2 + h * e_p**2 / one_minus)
        if family.name not in ("binomial", "poisson"):
            lik = lik / sig
        cooks = (e_p / one_minus) ** 2 * h / (phi * p)
        dffits = e_d * np.sqrt(h) / (sig * one_minus)
        covr = (sig / s) ** (2 * p) / one_minus
        factor_p = sign * e_p / one_minus  # W^(1/2) z / (1 - h): the weighted working residual keeps dmu/deta's sign
    sig[undefined] = np.nan
    for arr in (std_dev, std_pea, lik, cooks, dffits, covr, factor_p):
        arr[undefined] = np.nan
        arr[~np.isfinite(arr)] = np.nan
    dfbeta_p = rows_factor.coef_rows(factor_p)
    if residual == "deviance":
        with np.errstate(divide="ignore", invalid="ignore"):
            factor_d = e_d / one_minus
        factor_d[undefined] = np.nan
        dfbeta = rows_factor.coef_rows(factor_d)
    else:
        dfbeta = dfbeta_p
    return {
        "sigma_loo": sig,
        "standard_resid": std_dev,
        "standard_resid_pearson": std_pea,
        "student_resid": lik,
        "cooks_distance": cooks,
        "dffits": dffits,
        "cov_ratio": covr,
        "dfbeta": dfbeta,
        "dfbeta_one_step": dfbeta_p,
        "negative_sigma": negative,
    }


def deleted_response_resid(
    family: Any,
    y: np.ndarray,
    eta: np.ndarray,
    resid: np.ndarray,
    X: np.ndarray,
    dfbeta: np.ndarray,
    aliased: np.ndarray,
    undefined: np.ndarray,
) -> np.ndarray:
    """Deleted response residual ``y_i - mu_(i)(x_i)`` from the leave-one-out coefficients ``b - dfbeta_i``.

    ``resid`` is the response residual ``y - mu`` (used for the identity link, where ``y - (mu - shift)`` would
    cancel).
    """
    kept = np.setdiff1d(np.arange(X.shape[1]), aliased)
    full = kept.size == X.shape[1]
    shift = np.empty(X.shape[0])
    for s0 in range(0, X.shape[0], _ROWS):  # a block of rows at a time: X and dfbeta may differ in memory order
        Xb = X[s0 : s0 + _ROWS] if full else X[s0 : s0 + _ROWS][:, kept]
        Db = dfbeta[s0 : s0 + _ROWS] if full else dfbeta[s0 : s0 + _ROWS][:, kept]
        shift[s0 : s0 + _ROWS] = np.einsum("ij,ij->i", Xb, np.ascontiguousarray(Db))
    if family.link.name == "identity":
        press = resid + shift  # no cancellation in y - (mu - shift)
    else:
        press = y - family.link.inverse(eta - shift)
    press[undefined | ~np.isfinite(shift)] = np.nan
    return press


@dataclass(frozen=True, eq=False)
class GLMRows:
    """The per-row inputs of a GLM's influence measures: every row of a fit, or one Dask block of them.

    Attributes
    ----------
    X : ndarray of shape (n_rows, n_params)
        The rows of the design.
    y, eta : ndarray of shape (n_rows,)
        Response and linear predictor (with the offset).
    resid, resid_working, resid_pearson, resid_deviance : ndarray of shape (n_rows,)
        Response, working, Pearson and deviance residuals.
    leverage : ndarray of shape (n_rows,)
    undefined : ndarray of bool, shape (n_rows,)
        Rows whose deletion measures are NaN.
    weights : ndarray of shape (n_rows,) or None
        Prior weights.
    """

    X: np.ndarray
    y: np.ndarray
    eta: np.ndarray
    resid: np.ndarray
    resid_working: np.ndarray
    resid_pearson: np.ndarray
    resid_deviance: np.ndarray
    leverage: np.ndarray
    undefined: np.ndarray
    weights: np.ndarray | None


def assemble_influence(
    rows: GLMRows,
    m: dict[str, np.ndarray],
    *,
    family: Any,
    aliased_columns: np.ndarray,
    dfbeta: np.ndarray | None = None,
    cooks_distance: np.ndarray | None = None,
    **fields: Any,
) -> GLMInfluence:
    """The :class:`~regdiag.results.GLMInfluence` of ``rows`` from their one-step measures ``m``.

    Parameters
    ----------
    rows : GLMRows
    m : dict
        What :func:`one_step_measures` returned for ``rows``.
    family : Family
    aliased_columns : ndarray of int
        The factor's aliased columns.
    dfbeta : ndarray of shape (n_rows, n_params), optional
        In place of ``m["dfbeta"]`` (exact leave-one-out).
    cooks_distance : ndarray of shape (n_rows,), optional
        In place of ``m["cooks_distance"]`` (exact leave-one-out).
    **fields
        The result's other fields: the fit's scalars (``rank`` and ``df_resid`` give Cook's p-value), the names of
        rows and parameters, and what only some paths give.

    Returns
    -------
    GLMInfluence
    """
    dfbeta = m["dfbeta"] if dfbeta is None else dfbeta
    cooks = m["cooks_distance"] if cooks_distance is None else cooks_distance
    # deleted response residual y_i - mu_(i)(x_i) from the leave-one-out coefficients
    press = deleted_response_resid(
        family, rows.y, rows.eta, rows.resid, rows.X, dfbeta, aliased_columns, rows.undefined
    )
    return GLMInfluence(
        leverage=rows.leverage,
        resid=rows.resid,
        standard_resid=m["standard_resid"],
        student_resid=m["student_resid"],
        press_resid=press,
        sigma_loo=m["sigma_loo"],
        cooks_distance=cooks,
        cooks_pvalue=measures.cooks_pvalue(cooks, fields["rank"], fields["df_resid"]),
        dffits=m["dffits"],
        cov_ratio=m["cov_ratio"],
        dfbeta_data=dfbeta,
        weights=rows.weights,
        resid_working=rows.resid_working,
        resid_pearson=rows.resid_pearson,
        resid_deviance=rows.resid_deviance,
        standard_resid_pearson=m["standard_resid_pearson"],
        family=family.name,
        link=family.link.name,
        **fields,
    )


def _leverage(fit: GLMFit, observed: bool) -> tuple[np.ndarray, Any]:
    """The leverage (0 for zero weights) and the factor whose ``row_solve`` gives the one-step changes: the fit's
    (expected information) or that of the observed information."""
    if observed and not fit.family.canonical:
        h, rows_factor = _observed_factor(fit)
        h[h > 1.0 - 10.0 * np.finfo(float).eps] = 1.0
    else:
        h = fit.factor.hat_diag()
        rows_factor = fit.factor
    h[~fit.positive] = 0.0
    return h, rows_factor


def _one_step_dispersion_loo(fit: GLMFit, e_p: np.ndarray, h: np.ndarray, fixed: bool) -> np.ndarray:
    """``phi_(i)``: the dispersion where it is fixed, else Pearson's chi-square without the row over ``n - p - 1``."""
    if fixed:
        return np.full(len(h), float(fit.dispersion))
    with np.errstate(divide="ignore", invalid="ignore"):
        return (float(e_p @ e_p) - e_p**2 / (1.0 - h)) / (fit.df_resid - 1.0)


@dataclass(frozen=True, eq=False)
class _ExactLOO:
    dfbeta: np.ndarray
    cooks_distance: np.ndarray
    dispersion_loo: np.ndarray | None  # None where the dispersion is fixed
    iterations: np.ndarray


def _exact_loo(
    fit: GLMFit, first: np.ndarray, undefined: np.ndarray, fixed_phi: bool, *, tol: float, maxit: int,
    memory_mb: float,
) -> _ExactLOO:
    """Exact leave-one-out of every row that has one, from the one-step changes ``first``; warns of rows that did
    not converge (their measures NaN)."""
    f, n, p, df, phi = fit.factor, len(undefined), fit.rank, fit.df_resid, fit.dispersion
    rows = np.flatnonzero(~undefined)
    ex = exact_deletion(
        fit.design.X, fit.y, fit.prior_weights, fit.eta, fit.family, f, fit.working_weights,
        [np.array([i]) for i in rows], first[rows], np.asarray(fit.coef), offset=fit.offset, dispersion=phi,
        tol=tol, maxit=maxit, memory_mb=memory_mb, pearson=not fixed_phi,
    )
    phi_loo = None
    if not fixed_phi:  # Pearson's chi-square of each exact leave-one-out fit
        phi_loo = np.full(n, np.nan)
        with np.errstate(invalid="ignore"):
            phi_loo[rows] = ex.pearson_chi2 / (df - 1.0)  # type: ignore[operator]
        phi_loo[~(phi_loo > 0)] = np.nan
    dfbeta = np.full((n, first.shape[1]), np.nan)
    dfbeta[rows] = ex.dfbeta
    cooks = np.full(n, np.nan)
    cooks[rows] = ex.cooks_quad / (p * phi)
    iterations = np.zeros(n, dtype=np.intp)
    iterations[rows] = ex.iterations
    failed = rows[~ex.converged]
    if failed.size:
        warn_not_converged(
            "exact leave-one-out", maxit, "Newton steps", " (deleting the row may leave no maximum-likelihood "
            "estimate, e.g. a separated binomial model, or a count model's group with only zero counts): its "
            "exact measures are NaN", rows=fit.index[failed],
        )
    return _ExactLOO(dfbeta, cooks, phi_loo, iterations)


def _warn_undefined(fit: GLMFit, h: np.ndarray, neg_sigma: np.ndarray) -> None:
    """One warning per kind of row whose deletion measures are NaN (leverage 1, zero weight, R's deletion sigma)."""
    pos = fit.positive
    one = pos & ~(h < 1.0)
    if one.any():
        warn_leverage_one(fit.index[one])
    if (~pos).any():
        warn_zero_weight(fit.index[~pos])
    if neg_sigma.any():
        warn_rows(
            "R's one-step deletion sigma sqrt((sum d^2 - d_i^2/(1 - h_i))/(n - p - 1)) is undefined (negative "
            "under the root): sigma_loo, and the measures that divide by it, are NaN",
            fit.index[neg_sigma],
        )


def glm_influence(
    fit: GLMFit,
    *,
    loo: str = "one-step",
    residual: str = "pearson",
    observed: bool = False,
    loo_tol: float,
    loo_maxit: int,
    memory_mb: float,
) -> GLMInfluence:
    """Every influence measure of every observation; see :meth:`GLMFit.influence`."""
    loo = check_choice(loo, LOO_METHODS, "loo")
    residual = check_choice(residual, RESIDUAL_KINDS, "residual")
    f = fit.factor
    fam = fit.family
    pos = fit.positive
    e_p = fit._resid_pearson()
    e_d = fit._resid_deviance()
    sign = _link_sign(fit)

    h, rows_factor = _leverage(fit, observed)
    undefined = ~(h < 1.0) | ~pos
    separated = fit.separation is not None
    if separated:
        undefined = np.ones_like(undefined)

    m = one_step_measures(
        rows_factor, h, e_p, e_d, sign, undefined, family=fam, phi=fit.dispersion, df=fit.df_resid,
        dev_sum=float(e_d @ e_d), residual=residual,
    )
    fixed_phi = fam.fixed_dispersion or fit.dispersion_fixed is not None
    phi_loo = _one_step_dispersion_loo(fit, e_p, h, fixed_phi)
    phi_loo[undefined | ~(phi_loo > 0)] = np.nan
    rows = GLMRows(
        X=fit.design.X, y=fit.y, eta=fit.eta, resid=fit._resid_response(), resid_working=fit._resid_working(),
        resid_pearson=e_p, resid_deviance=e_d, leverage=h, undefined=undefined, weights=np.array(fit.prior_weights),
    )
    exact: dict[str, Any] = {"dfbeta_one_step": m["dfbeta_one_step"] if residual == "deviance" else None}
    if loo == "exact":
        if observed and not fam.canonical:
            e_w = sign * e_p  # W^(1/2) z: the weighted working residual (sign of dmu/deta kept)
            first = f.coef_rows(np.where(undefined, np.nan, e_w / np.where(undefined, 1.0, 1.0 - f.hat_diag())))
        else:
            first = m["dfbeta_one_step"]
        ex = _exact_loo(fit, first, undefined, fixed_phi, tol=loo_tol, maxit=loo_maxit, memory_mb=memory_mb)
        if ex.dispersion_loo is not None:
            phi_loo = ex.dispersion_loo
        exact = dict(
            dfbeta=ex.dfbeta, cooks_distance=ex.cooks_distance, dfbeta_one_step=m["dfbeta_one_step"],
            cooks_distance_one_step=m["cooks_distance"], loo_iterations=ex.iterations, loo_tol=loo_tol,
        )

    if not separated:  # a separated fit already warned, naming the separating direction
        _warn_undefined(fit, h, pos & ~undefined & m["negative_sigma"])
    return assemble_influence(
        rows, m, family=fam, aliased_columns=f.aliased,
        params=np.array(fit.coef),
        cov_unscaled_diag=f.cov_unscaled_diag(),
        sigma=float(np.sqrt(float(e_d @ e_d) / fit.df_resid) if fit.df_resid > 0 else np.nan),
        rank=fit.rank,
        df_resid=float(fit.df_resid),
        n_obs=fit.nobs,
        index=fit.index,
        param_names=fit.param_names,
        aliased=fit.aliased,
        method="glm-exact" if loo == "exact" else "glm-one-step",
        fit=fit,
        dispersion=float(fit.dispersion),
        residual=residual,
        observed=bool(observed),
        separated=tuple(fit.index[fit.separation.rows]) if fit.separation is not None else (),
        link_sign=sign,
        dispersion_loo=phi_loo,
        dispersion_fixed=fit.dispersion_fixed is not None,
        theta_estimated=fit.theta is not None,
        **exact,
    )


@dataclass(frozen=True, eq=False)
class _PearsonView:
    """A GLM fit seen as the weighted least-squares problem of its last IRLS step, for closed-form group deletion.

    The weighted residuals are the Pearson residuals ``W^(1/2) z``; the "residual sum of squares" is Pearson's
    chi-square and ``sigma`` is ``sqrt(phi)``.
    """

    factor: Any
    wresid: np.ndarray
    positive: np.ndarray
    rank: int
    nobs: int
    ssr: float
    sigma: float
    coef: np.ndarray
    index: Any
    param_names: tuple[str, ...]
    aliased: tuple[str, ...]
    perfect_fit: bool = False
    method: str = "glm-one-step"


def glm_group_deletion(
    fit: GLMFit, groups: Any, *, loo: str, loo_tol: float, loo_maxit: int, memory_mb: float
) -> GroupInfluence:
    """Group deletion, one-step (closed form) or exact (Newton iterations from it).

    See :meth:`GLMFit.group_deletion`.
    """
    from .deletion import group_deletion, resolve_groups

    loo = check_choice(loo, LOO_METHODS, "loo")
    if fit.separation is not None:
        raise DesignError(
            "the model is separated (no maximum-likelihood estimate): deletion measures are undefined; "
            + fit.separation.describe(fit.param_names, fit.index)
        )
    e_p = fit._resid_pearson()
    view = _PearsonView(
        factor=fit.factor,
        wresid=_link_sign(fit) * e_p,
        positive=fit.positive,
        rank=fit.rank,
        nobs=fit.nobs,
        ssr=float(e_p @ e_p),
        sigma=float(np.sqrt(fit.dispersion)),
        coef=fit.coef,
        index=fit.index,
        param_names=fit.param_names,
        aliased=fit.aliased,
    )
    one = group_deletion(view, groups)  # type: ignore[arg-type]
    fixed_phi = fit.family.fixed_dispersion or fit.dispersion_fixed is not None
    if loo == "one-step":
        if fixed_phi:  # nothing to re-estimate: the change over the full fit's standard error
            with np.errstate(divide="ignore", invalid="ignore"):
                dfbetas = one.dfbeta / np.sqrt(fit.dispersion * fit.factor.cov_unscaled_diag())[None, :]
            dfbetas[~np.isfinite(dfbetas)] = np.nan
            one = dataclasses.replace(one, dfbetas=dfbetas)
        return dataclasses.replace(one, method="glm-one-step-group")
    labels, members = resolve_groups(fit.index, groups)
    members = [m[fit.positive[m]] for m in members]
    ok = np.all(np.isfinite(one.dfbeta[:, [j for j in range(fit.factor.n_cols) if j not in fit.factor.aliased]]),
                axis=1)
    idx = np.flatnonzero(ok & (one.size > 0))
    dfbeta = np.full_like(one.dfbeta, np.nan)
    dfbeta[one.size == 0] = 0.0
    cooks = np.full(len(labels), np.nan)
    cooks[one.size == 0] = 0.0
    sig = np.array(one.sigma_loo, dtype=float)
    if idx.size:
        ex = exact_deletion(
            fit.design.X, fit.y, fit.prior_weights, fit.eta, fit.family, fit.factor, fit.working_weights,
            [members[g] for g in idx], one.dfbeta[idx], np.asarray(fit.coef), offset=fit.offset,
            dispersion=fit.dispersion, tol=loo_tol, maxit=loo_maxit, memory_mb=memory_mb, pearson=True,
        )
        dfbeta[idx] = ex.dfbeta
        cooks[idx] = ex.cooks_quad / (fit.rank * fit.dispersion)
        df_g = fit.nobs - fit.rank - one.size[idx]
        with np.errstate(divide="ignore", invalid="ignore"):
            sig[idx] = np.where(df_g > 0, np.sqrt(ex.pearson_chi2 / df_g), np.nan)
        failed = idx[~ex.converged]
        if failed.size:
            warn_not_converged(
                "exact group deletion", loo_maxit, "Newton steps", ": those groups' measures are NaN",
                rows=labels[failed], noun="groups",
            )
    # DFBETAS as for single observations: over sqrt(phi) where the dispersion is fixed, else over sigma_loo
    scale = np.full(len(labels), np.sqrt(fit.dispersion)) if fixed_phi else sig
    with np.errstate(divide="ignore", invalid="ignore"):
        dfbetas = dfbeta / np.outer(scale, np.sqrt(fit.factor.cov_unscaled_diag()))
    dfbetas[~np.isfinite(dfbetas)] = np.nan
    return GroupInfluence(
        groups=labels,
        size=one.size,
        loo_params=np.asarray(fit.coef)[None, :] - dfbeta,
        dfbeta=dfbeta,
        dfbetas=dfbetas,
        cooks_distance=cooks,
        sigma_loo=sig,
        leverage=one.leverage,
        param_names=fit.param_names,
        aliased=fit.aliased,
        method="glm-exact-group",
    )
