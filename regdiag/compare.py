"""regdiag's influence measures side by side with what users have today: statsmodels, or R's output.

:func:`compare` puts regdiag's value of each measure next to the peer's on the same fit, for every column the peer
gives (statsmodels' ``summary_frame()`` and the quantities behind it; every column of R's ``influence.measures``,
``hatvalues``, ``cooks.distance``, ``rstandard``, ``rstudent``, ``dfbeta``, ``dfbetas`` and car's ``outlierTest``
written by ``write.csv``), and reports per measure the largest absolute and relative difference, the bound within
which the two agree, the rows that differ most, and, where they differ, the cause.

The bound is derived, not chosen: rounding ``c eps kappa`` from the condition number of the weighted design, and,
for a GLM, the effect of the peer's incomplete convergence, ``2 delta ||grad m_i||`` with ``delta = O(sqrt(eps))``
the distance in the information metric that the peer's stopping rule allows (or, for statsmodels, the measured
distance of its last two iterates) and the gradient of each row's measure evaluated in closed form (see the page
"regdiag, statsmodels and R side by side"). A cause is never printed because it usually applies: each is *detected*
from the situation (weights that are not all equal, a rank-deficient design, rows with leverage 1, an offset, a
non-canonical link, R's default ``glm.control``, ...) and then *checked*: regdiag recomputes the peer's value under
the peer's convention (for example statsmodels' WLS hat ``h_i / sqrt(w_i)``, or R's iterations replayed) and the
cause counts as explaining the difference only if that reproduces the peer's numbers within the bound, NaN where
they are NaN (column ``explained``). Anything else is reported as unexplained, with its rows and size.
"""

from __future__ import annotations

import dataclasses
import math
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._validation import DataError, format_labels
from .comparison import Comparison, Reason, build_comparison, one_line_error, quietly, statsmodels_version
from .from_statsmodels import GLM_EQUIVALENTS, fit_from_statsmodels, glm_of_discrete
from .input_kind import is_statsmodels, statsmodels_model
from .protocols import is_glm

__all__ = ["compare", "Comparison"]

EPS = float(np.finfo(float).eps)
#: statsmodels computes some OLS measures by refitting n times; above this many rows those measures are skipped
MAX_REFITS = 5000


# ---------------------------------------------------------------------------------------------------------------
# entry point


def compare(
    results: Any,
    reference: Any = None,
    *,
    rtol: float | None = None,
    n_rows: int = 3,
    max_refits: int = MAX_REFITS,
    r_epsilon: float = 1e-8,
) -> Comparison:
    """Compare regdiag's influence measures with statsmodels' or with R's output written by ``write.csv``.

    Every column the peer gives is compared: statsmodels' ``summary_frame()`` (OLS / WLS: ``dfb_*``, ``cooks_d``,
    ``standard_resid``, ``hat_diag``, ``dffits_internal``, ``student_resid``, ``dffits``; GLM: ``dfb_*``,
    ``cooks_d``, ``standard_resid``, ``hat_diag``, ``dffits_internal``, also for discrete Logit / Probit /
    Poisson models) and the quantities behind it (``dfbeta``,
    ``d_params``, ``cov_ratio``, the deletion sigma, PRESS residuals, Cook's p-values); for R, every column of the
    file (see ``reference``). Two values agree when their difference is within a bound derived from the conditioning
    of the design and, for a GLM, from how far the peer's iterations stopped from the maximum-likelihood fit
    (documented on the page "Comparing with statsmodels and R"); a larger difference is reported with its cause,
    which counts as explaining it only when regdiag, recomputing the peer's number under the suspected convention,
    reproduces the peer's values, or as unexplained with its rows and size.

    Parameters
    ----------
    results : statsmodels results, regdiag fit or Influence
        A fitted statsmodels OLS / WLS / GLM results object, or a discrete Logit / Probit / Poisson one (compared
        with its ``MLEInfluence``): regdiag refits the same design, weights and offset and both libraries' measures
        are compared. A regdiag fit without ``reference``: the equivalent statsmodels
        model is fitted and compared. With ``reference``, a regdiag fit or Influence (or statsmodels results, which
        regdiag refits) is compared with the file.
    reference : str, Path, pandas.DataFrame or list of those, optional
        R's output as written by ``write.csv`` (first column the row names): ``influence.measures(fit)$infmat``
        (columns ``dfb.*``, ``dffit``, ``cov.r``, ``cook.d``, ``hat``), and any of ``hatvalues``,
        ``cooks.distance``, ``rstandard`` / ``rstandard.deviance``, ``rstandard.pearson``, ``rstudent`` /
        ``rstudent.deviance``, ``rstudent.pearson``, ``dfbeta.<coefficient>``, ``dfbetas.<coefficient>`` (as
        ``data.frame(..., dfbeta = dfbeta(fit), check.names = FALSE)`` names them), and car's ``outlierTest``
        columns ``rstudent``, ``unadjusted.p``, ``bonferroni.p`` in a file of their own. Several files are given as
        a list.
    rtol : float, optional
        An allowance added to the derived bound, relative to each measure's largest absolute value (none by
        default).
    n_rows : int
        How many of the most different rows to name per measure.
    max_refits : int
        statsmodels computes its OLS ``dfbeta``, ``dfbetas``, ``cov_ratio`` and leave-one-out sigma by refitting
        once per row; above this many rows those measures are skipped (noted).
    r_epsilon : float
        The ``glm.control(epsilon = ...)`` the R fit of a GLM used (R's default 1e-8): how far R's iterations may
        have stopped from the maximum-likelihood fit, which enters the bound.

    Returns
    -------
    Comparison

    Examples
    --------
    >>> import numpy as np, statsmodels.api as sm, regdiag
    >>> df = regdiag.datasets.load("LifeCycleSavings")
    >>> X = sm.add_constant(df[["pop15", "pop75", "dpi", "ddpi"]])
    >>> res = sm.WLS(df["sr"], X, weights=np.linspace(1, 3, 50)).fit()
    >>> cmp = regdiag.compare(res)
    >>> cmp.table.loc["leverage", "reason"][:40]
    "statsmodels' OLSInfluence uses sqrt(w_i)"
    >>> bool(cmp.table.loc["leverage", "explained"])
    True
    """
    if reference is not None:
        return _compare_r(results, reference, rtol=rtol, n_rows=n_rows, epsilon=r_epsilon)
    from .compare_cox import compare_phreg, is_cox  # Cox models: statsmodels' PHReg (regdiag.compare_cox)

    if is_cox(results):
        return compare_phreg(results, n_rows=n_rows, **({} if rtol is None else {"rtol": rtol}))
    from .compare_models import compare_model, handles  # robust regression and the discrete models

    # statsmodels' Logit, Probit and Poisson are compared here, beside the GLM (their MLEInfluence and the bound of
    # the GLM); statsmodels' other discrete models, RLM, and regdiag's own robust and discrete fits there
    if handles(results) and type(getattr(results, "model", None)).__name__ not in _DISCRETE:
        return compare_model(results, rtol=rtol, n_rows=n_rows, max_refits=max_refits)
    if is_statsmodels(results):
        sm_results = results
        fit = _regdiag_fit_of(results)
    else:
        fit = getattr(results, "fit", None) if hasattr(results, "leverage") else results
        if fit is None or not hasattr(fit, "design"):
            raise TypeError(
                f"cannot compare a {type(results).__name__}: pass statsmodels results, a regdiag fit, or a regdiag "
                "fit with reference='influence_measures.csv'"
            )
        sm_results = _statsmodels_of(fit)
    if is_glm(fit):
        return _compare_sm_glm(sm_results, fit, rtol=rtol, n_rows=n_rows)
    return _compare_sm_linear(sm_results, fit, rtol=rtol, n_rows=n_rows, max_refits=max_refits)


def _regdiag_fit_of(results: Any) -> Any:
    kind = statsmodels_model(results)
    if kind in ("OLS", "WLS", "GLM"):
        return quietly(lambda: fit_from_statsmodels(results))
    if kind in _DISCRETE:
        return quietly(lambda: glm_of_discrete(results))
    raise DataError(
        f"statsmodels {kind} results cannot be compared; pass OLS, WLS, GLM, Logit, Probit or Poisson results"
    )


#: statsmodels' discrete models with an influence (MLEInfluence) whose regdiag counterpart is a GLM
_DISCRETE = GLM_EQUIVALENTS


def _statsmodels_of(fit: Any) -> Any:
    """The statsmodels fit of the same design, weights and offset as a regdiag fit."""
    import statsmodels.api as sm

    d = fit.design
    X = pd.DataFrame(np.asarray(d.X), index=d.index, columns=list(d.param_names))
    if is_glm(fit):
        return quietly(lambda: _statsmodels_glm_of(fit, X))  # statsmodels warns about links it calls unsafe
    y = pd.Series(np.asarray(d.y, dtype=float), index=d.index, name=d.response_name)
    if d.offset is not None:
        y = y - np.asarray(d.offset)
    if d.weights is None:
        return sm.OLS(y, X).fit()
    return sm.WLS(y, X, weights=np.asarray(d.weights)).fit()


def _statsmodels_glm_of(fit: Any, X: pd.DataFrame) -> Any:
    import statsmodels.api as sm

    fam = fit.family
    links = {
        "identity": sm.families.links.Identity, "log": sm.families.links.Log, "logit": sm.families.links.Logit,
        "probit": sm.families.links.Probit, "cloglog": sm.families.links.CLogLog, "sqrt": sm.families.links.Sqrt,
        "inverse": sm.families.links.InversePower, "1/mu^2": sm.families.links.InverseSquared,
        "inverse_squared": sm.families.links.InverseSquared, "cauchit": sm.families.links.Cauchy,
    }
    link_name = getattr(fam.link, "name", str(fam.link))
    if link_name not in links:
        raise DataError(f"link {link_name!r} has no statsmodels equivalent to compare with")
    link = links[link_name]()
    name = fam.name.lower()
    if name == "gaussian":
        family = sm.families.Gaussian(link)
    elif name == "binomial":
        family = sm.families.Binomial(link)
    elif name == "poisson":
        family = sm.families.Poisson(link)
    elif name == "gamma":
        family = sm.families.Gamma(link)
    elif name in ("inverse_gaussian", "inverse.gaussian"):
        family = sm.families.InverseGaussian(link)
    elif name in ("negative_binomial", "negbin"):
        alpha = _negbin_alpha(fam)
        family = sm.families.NegativeBinomial(link, alpha=alpha)
    else:
        raise DataError(f"family {fam.name!r} has no statsmodels equivalent to compare with")
    d = fit.design
    y = np.asarray(fit.y, dtype=float)
    w = np.asarray(fit.prior_weights, dtype=float)
    offset = None if d.offset is None else np.asarray(d.offset, dtype=float)
    model = sm.GLM(pd.Series(y, index=d.index, name=d.response_name), X, family=family, var_weights=w, offset=offset)
    # started at regdiag's estimate: the same fit (statsmodels' own start fails for some links); the same dispersion
    # (a fixed one, such as glm.nb's 1 with theta estimated, or Pearson's estimate). statsmodels' own default is 1
    # for these three families, and is kept: a scale given as a number makes its dffits_internal raise
    fixed = getattr(fit, "dispersion_fixed", None)
    scale: Any = float(fixed) if fixed is not None else (1.0 if fam.fixed_dispersion else "X2")
    if scale == 1.0 and name in ("binomial", "poisson", "negative_binomial", "negbin"):
        scale = None
    return model.fit(
        start_params=np.nan_to_num(np.asarray(fit.coef, dtype=float)), scale=scale, tol=1e-12, maxiter=200,
    )


def _negbin_alpha(fam: Any) -> float:
    for name in ("alpha", "theta"):
        v = getattr(fam, name, None)
        if v is not None:
            return float(v) if name == "alpha" else 1.0 / float(v)
    raise DataError("the negative binomial family has no alpha/theta to give statsmodels")


# ---------------------------------------------------------------------------------------------------------------
# statsmodels, linear models


def _describe(fit: Any) -> str:
    d = fit.design
    text = d.formula or f"{d.response_name} ~ {' + '.join(d.param_names)}"
    kind = getattr(fit, "method", "ols").upper()
    fam = getattr(fit, "family", None)
    if fam is not None:
        kind = f"GLM {fam.name}({getattr(fam.link, 'name', fam.link)})"
    return f"{kind}: {text}; n = {fit.nobs}, rank = {fit.rank} of {len(d.param_names)} columns"


def _compare_sm_linear(res: Any, fit: Any, *, rtol: float | None, n_rows: int, max_refits: int) -> Comparison:
    from statsmodels.stats.outliers_influence import OLSInfluence

    infl = quietly(fit.influence)
    sm_infl = OLSInfluence(res)
    names = list(fit.param_names)
    n, k = len(fit.index), len(names)
    refits = n <= max_refits
    notes = []
    getters, ours = _sm_linear_columns(sm_infl, infl, names, refits)
    if not refits:
        notes.append(
            f"statsmodels computes sigma_loo, student_resid, dffits, cov_ratio and dfbeta(s) by refitting once per "
            f"row; with n = {n} > max_refits = {max_refits} they are not compared"
        )
    failures: dict[str, str] = {}
    theirs = _peer_columns(getters, n, failures)
    pairs = {m: (ours[m], theirs[m], getters[m][0]) for m in getters}
    reasons = _linear_reasons(fit, infl, res, k)
    if failures:
        reasons.insert(0, _failure_reason(failures, fit.index, "statsmodels", ""))
    if refits:
        robust = _robust_cov_reason(fit, infl, res, reasons)
        if robust is not None:
            reasons.append(robust)
    tol_fn, note = _sm_linear_tolerance(fit, infl, names, rtol)
    notes.append(note)
    peer = f"statsmodels {statsmodels_version()} OLSInfluence"
    return build_comparison(pairs, fit.index, reasons, tol=tol_fn, n_rows=n_rows, peer=peer, model=_describe(fit),
                            notes=notes)


def _sm_linear_columns(
    sm_infl: Any, infl: Any, names: list[str], refits: bool
) -> tuple[dict[str, tuple[str, Callable[[], Any]]], dict[str, np.ndarray]]:
    """Every column of statsmodels' ``OLSInfluence.summary_frame()`` and the quantities behind them (those from
    its refits with ``refits``): how statsmodels names and computes each, and regdiag's values."""
    getters: dict[str, tuple[str, Callable[[], Any]]] = {
        "leverage": ("hat_diag", lambda: sm_infl.hat_matrix_diag),
        "standard_resid": ("standard_resid", lambda: sm_infl.resid_studentized_internal),
        "press_resid": ("resid_press", lambda: sm_infl.resid_press),
        "cooks_distance": ("cooks_d", lambda: sm_infl.cooks_distance[0]),
        "cooks_pvalue": ("cooks_distance[1]", lambda: sm_infl.cooks_distance[1]),
        "dffits_internal": ("dffits_internal", lambda: sm_infl.dffits_internal[0]),
    }
    ours: dict[str, np.ndarray] = {
        "leverage": infl.leverage, "standard_resid": infl.standard_resid, "press_resid": infl.press_resid,
        "cooks_distance": infl.cooks_distance, "cooks_pvalue": infl.cooks_pvalue,
        "dffits_internal": infl.dffits_internal,
    }
    if refits:
        getters["sigma_loo"] = ("sqrt(sigma2_not_obsi)", lambda: np.sqrt(sm_infl.sigma2_not_obsi))
        getters["student_resid"] = ("student_resid", lambda: sm_infl.resid_studentized_external)
        getters["dffits"] = ("dffits", lambda: sm_infl.dffits[0])
        getters["cov_ratio"] = ("cov_ratio", lambda: sm_infl.cov_ratio)
        ours.update(sigma_loo=infl.sigma_loo, student_resid=infl.student_resid, dffits=infl.dffits,
                    cov_ratio=infl.cov_ratio)
        for j, nm in enumerate(names):
            getters[f"dfbeta_{nm}"] = (f"dfbeta[:, {j}]", _column(lambda: sm_infl.dfbeta, j))
            ours[f"dfbeta_{nm}"] = np.asarray(infl.dfbeta)[:, j]
        for j, nm in enumerate(names):
            getters[f"dfbetas_{nm}"] = (f"dfb_{nm}", _column(lambda: sm_infl.dfbetas, j))
            ours[f"dfbetas_{nm}"] = np.asarray(infl.dfbetas)[:, j]
    return getters, ours


def _sm_linear_tolerance(
    fit: Any, infl: Any, names: list[str], rtol: float | None
) -> tuple[Callable[[str, np.ndarray], np.ndarray], str]:
    """The tolerance of each measure against statsmodels' OLS, and the note that says it."""
    # statsmodels solves the normal equations by a pseudo-inverse, once and once per refit, regdiag from one QR:
    # either carries relative errors up to about eps x kappa (kappa: condition number of the weighted design as
    # given, unscaled), and a refit's changes b - b_(i), differences of two solutions, up to eps x kappa relative
    # to the coefficients themselves
    cond = _raw_cond(fit)
    bound = _Bound(rounding=ROUNDING_FACTOR * EPS * cond, rtol=float(rtol or 0.0))
    b = np.nan_to_num(np.asarray(fit.coef, dtype=float))
    sd = np.sqrt(np.abs(np.asarray(infl.cov_unscaled_diag, dtype=float)))
    absolute: dict[str, float] = {}
    for j, nm in enumerate(names):
        absolute[f"dfbeta_{nm}"] = ROUNDING_FACTOR * EPS * cond * float(np.max(np.abs(b)))
        with np.errstate(divide="ignore", invalid="ignore"):
            s_min = float(np.nanmin(np.asarray(infl.sigma_loo))) * sd[j]
            absolute[f"dfbetas_{nm}"] = absolute[f"dfbeta_{nm}"] / s_min if s_min > 0 else 0.0

    # COVRATIO is a ratio of determinants (statsmodels: of p x p covariance matrices from each refit), whose relative
    # rounding error is p times that of one covariance entry, eps kappa^2 (the normal equations)
    det_factor = {"cov_ratio": len(names) * cond}

    def tol_fn(measure: str, theirs_m: np.ndarray) -> np.ndarray:
        return bound(measure, theirs_m) * det_factor.get(measure, 1.0) + absolute.get(measure, 0.0)

    return tol_fn, bound.note("") + f" (condition number of the design {cond:.3g})"


def _robust_cov_reason(fit: Any, infl: Any, res: Any, reasons: list[Reason]) -> Reason | None:
    """Results fitted with a robust covariance (``fit(cov_type="HC3")`` and the like): statsmodels' COVRATIO divides
    the determinant of each leave-one-out refit's *classical* covariance by that of the full fit's *robust* one."""
    cov_type = str(getattr(res, "cov_type", "nonrobust"))
    if cov_type == "nonrobust" or fit.rank < len(fit.param_names):
        return None
    C = np.asarray(res.cov_params(), dtype=float)
    sign_r, logdet_robust = np.linalg.slogdet(C)
    if sign_r <= 0:
        return None
    # regdiag's COVRATIO has the classical covariance s^2 (X'WX)^-1 of the full fit in its denominator (or, for WLS,
    # the value statsmodels' own convention gives with the classical covariance)
    base = np.asarray(infl.cov_ratio, dtype=float)
    for r in reasons:
        if r.key == "wls_hat" and "cov_ratio" in r.predicted:
            base = np.asarray(r.predicted["cov_ratio"], dtype=float)
    cud_full = quietly(lambda: np.asarray(res.normalized_cov_params, dtype=float))
    _, logdet_classical = np.linalg.slogdet(float(res.scale) * cud_full)
    predicted = {"cov_ratio": base * math.exp(logdet_classical - logdet_robust)}
    return Reason(
        "robust_covariance",
        f"the statsmodels results carry a robust covariance (cov_type={cov_type!r}): its COVRATIO divides "
        "det(cov) of each leave-one-out refit (classical covariance, s_(i)^2 (X_(i)'X_(i))^-1) by det(cov) of the "
        f"full fit's {cov_type} covariance; regdiag's, like R's, compares classical covariances on both sides",
        predicted=predicted,
        measures=frozenset(predicted),
    )


def _raw_cond(fit: Any) -> float:
    """2-norm condition number of the weighted design as statsmodels sees it (no column scaling)."""
    d = fit.design
    X = np.asarray(d.X, dtype=float)
    if d.weights is not None:
        X = X * np.sqrt(np.asarray(d.weights))[:, None]
    return _raw_cond_of(X)


def _linear_reasons(fit: Any, infl: Any, res: Any, k: int) -> list[Reason]:
    """Situations in which statsmodels' OLSInfluence computes something else than R and regdiag, with its values."""
    from . import measures

    reasons: list[Reason] = []
    h = np.asarray(infl.leverage)
    w = fit.design.weights
    index = fit.index
    one = np.flatnonzero(~(h < 1) & (np.ones(len(h), bool) if w is None else np.asarray(w) > 0))
    if one.size:
        reasons.append(
            Reason(
                "leverage_one",
                f"leverage 1 at rows {format_labels(list(index[one]), 5)}: deleting such a row makes a coefficient "
                "unidentifiable, so regdiag reports NaN, while statsmodels divides by 1 - h (about 0) and reports "
                "rounding noise or infinity",
                measures=frozenset({"*"}),
                rows=index[one],
            )
        )
    if w is not None and np.any(np.asarray(w) == 0):
        zero = index[np.asarray(w) == 0]
        reasons.append(
            Reason(
                "zero_weight",
                f"zero weight at rows {format_labels(list(zero), 5)}: they are out of the fit; regdiag reports "
                "leverage 0 and NaN deletion measures, statsmodels treats them as observations",
                measures=frozenset({"*"}),
                rows=zero,
            )
        )
    if w is not None and np.any(np.asarray(w)[np.asarray(w) > 0] != 1.0):
        reasons.append(_wls_reason(fit, infl, res, k))
    if fit.rank < k:
        reasons += _rank_reason(fit, infl, res, k, measures)
    return reasons


def _wls_reason(fit: Any, infl: Any, res: Any, k: int) -> Reason:
    """statsmodels' OLSInfluence on WLS: hat ``h / sqrt(w)``, unweighted residuals, unweighted leave-one-out refits."""
    from . import measures
    from .design import Design
    from .linear.ols import fit_design

    w = np.asarray(fit.design.weights, dtype=float)
    pos = w > 0
    h = np.asarray(infl.leverage)
    with np.errstate(divide="ignore", invalid="ignore"):
        h_sm = np.where(pos, h / np.sqrt(w), 0.0)
    e = np.asarray(res.resid, dtype=float)  # unweighted residuals of the WLS fit
    s = math.sqrt(float(res.scale))
    d = fit.design
    unweighted = quietly(lambda: fit_design(Design(
        X=d.X, y=d.y, weights=None, offset=d.offset, index=d.index, param_names=d.param_names,
        response_name=d.response_name, formula=d.formula, has_intercept=d.has_intercept,
    )).influence())
    s_loo = np.asarray(unweighted.sigma_loo)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = measures.standard_resid(e, h_sm, s)
        t = e / (s_loo * np.sqrt(1.0 - h_sm))
        dfb = np.asarray(fit.coef)[None, :] - np.asarray(unweighted.loo_params)
        cud = np.asarray(infl.cov_unscaled_diag)
        dfbs = dfb / s_loo[:, None] / np.sqrt(cud)[None, :]
        # det((X_(i)'X_(i))^{-1}) = det((X'X)^{-1}) / (1 - h_ols,i)
        X = np.asarray(d.X, dtype=float)
        _, logdet_xx = np.linalg.slogdet(X.T @ X)
        _, logdet_xwx = np.linalg.slogdet((X.T * w) @ X)
        cov_ratio = np.exp(
            k * np.log(s_loo**2 / s**2) - logdet_xx + logdet_xwx - np.log(1.0 - np.asarray(unweighted.leverage))
        )
    predicted = {
        "leverage": h_sm,
        "standard_resid": r,
        "press_resid": e / (1.0 - h_sm),
        "cooks_distance": measures.cooks_distance(r, h_sm, k),
        "dffits_internal": r * np.sqrt(h_sm / (1.0 - h_sm)),
        "sigma_loo": s_loo,
        "student_resid": t,
        "dffits": t * np.sqrt(h_sm / (1.0 - h_sm)),
        "cov_ratio": cov_ratio,
    }
    predicted["cooks_pvalue"] = measures.cooks_pvalue(predicted["cooks_distance"], k, res.df_resid)
    for j, nm in enumerate(fit.param_names):
        predicted[f"dfbeta_{nm}"] = dfb[:, j]
        predicted[f"dfbetas_{nm}"] = dfbs[:, j]
    return Reason(
        "wls_hat",
        "statsmodels' OLSInfluence uses sqrt(w_i) x_i'(X'WX)^{-1} x_i as the hat value of a WLS fit (it should be "
        "w_i x_i'(X'WX)^{-1} x_i, which sums to the rank), the unweighted residuals, and leave-one-out refits that "
        "drop the weights; every measure built on these differs",
        predicted=predicted,
        measures=frozenset(predicted),
    )


def _rank_reason(fit: Any, infl: Any, res: Any, k: int, measures: Any) -> list[Reason]:
    """Rank-deficient design: statsmodels divides by the number of columns and reports minimum-norm coefficients.

    The minimum-norm solution is the basic one projected on the row space of the (weighted) design, ``P = V V'``
    from its SVD; deleting a row that keeps the rank keeps that row space, so statsmodels' changes are
    ``P (b - b_(i))`` with the basic ``b`` (aliased coefficients 0), scaled for DFBETAS by ``diag((X'WX)^+)``.
    """
    p = fit.rank
    d = np.asarray(infl.cooks_distance)
    X = np.asarray(fit.design.X, dtype=float)
    w = fit.design.weights
    if w is not None:
        X = X * np.sqrt(np.asarray(w))[:, None]
    _, sv, vt = np.linalg.svd(X, full_matrices=False)
    keep = sv > sv[0] * max(X.shape) * EPS
    V = vt[keep].T
    P = V @ V.T
    pinv_diag = np.einsum("ij,j,ij->i", V, 1.0 / sv[keep] ** 2, V)
    dfb0 = np.nan_to_num(np.asarray(infl.dfbeta), nan=0.0) @ P
    with np.errstate(divide="ignore", invalid="ignore"):
        dfbs0 = dfb0 / np.asarray(infl.sigma_loo)[:, None] / np.sqrt(pinv_diag)[None, :]
    predicted = {
        "cooks_distance": d * p / k,
        "cooks_pvalue": measures.cooks_pvalue(d * p / k, k, res.df_resid),
    }
    # statsmodels' COVRATIO is det(cov_(i)) / det(cov) of singular covariances: check that the full fit's determinant
    # is zero to rounding (relative to the product of the variances, its upper bound), so the ratio is noise
    checked: frozenset[str] = frozenset()
    try:
        C = np.asarray(res.cov_params(), dtype=float)
        bound = float(np.prod(np.abs(np.diag(C))))
        if bound > 0 and abs(float(np.linalg.det(C))) <= 1e3 * k * EPS * bound:
            checked = frozenset({"cov_ratio"})
    except (np.linalg.LinAlgError, ValueError, TypeError):
        pass
    for j, nm in enumerate(fit.param_names):
        predicted[f"dfbeta_{nm}"] = dfb0[:, j]
        predicted[f"dfbetas_{nm}"] = dfbs0[:, j]
    out = [
        Reason(
            "rank_deficient",
            f"the design has rank {p} < {k} columns: the coefficients are not identifiable, and statsmodels reports "
            "the minimum-norm (pseudo-inverse) coefficient changes where regdiag, like R, reports the basic "
            f"solution; statsmodels also divides Cook's distance by the {k} columns instead of the rank {p}, and "
            "its COVRATIO is a ratio of determinants of singular covariance matrices (rounding noise"
            + ("; the full fit's determinant is zero to rounding here" if checked else "") + ")",
            predicted=predicted,
            measures=frozenset(predicted) | {"cov_ratio"},
            checked=checked,
        )
    ]
    aliased = _aliased_reason(fit)
    return out if aliased is None else out + [aliased]


def _aliased_reason(fit: Any) -> Reason | None:
    """Columns that are linear combinations of earlier ones: NaN changes in regdiag (and R), numbers in statsmodels."""
    aliased = [nm for nm in fit.param_names if nm in fit.aliased]
    if not aliased:
        return None
    return Reason(
        "aliased",
        f"{', '.join(aliased)} aliased (a linear combination of earlier columns): regdiag, like R, reports no change "
        "(NaN) for a coefficient that is not estimable; statsmodels a minimum-norm value",
        measures=frozenset({f"dfbeta_{nm}" for nm in aliased} | {f"dfbetas_{nm}" for nm in aliased}),
        rows=fit.index,
    )


# ---------------------------------------------------------------------------------------------------------------
# statsmodels, GLMs


def _column(values: Callable[[], Any], j: int) -> Callable[[], np.ndarray]:
    """A getter of column ``j`` of the matrix ``values()`` returns (computed only when the getter is called)."""
    return lambda: np.asarray(values())[:, j]


def _peer_columns(
    getters: dict[str, tuple[str, Callable[[], Any]]], n: int, failures: dict[str, str]
) -> dict[str, np.ndarray]:
    """Each peer column computed on its own, so one that raises does not stop the others: measure -> values; a
    column that raises is all NaN and its error is recorded in ``failures`` (measure -> message)."""
    out: dict[str, np.ndarray] = {}
    cache: dict[str, Any] = {}
    for measure, (peer_col, getter) in getters.items():
        try:
            if peer_col not in cache:
                cache[peer_col] = quietly(getter)
            v = np.asarray(cache[peer_col], dtype=float).reshape(-1)
            if v.shape != (n,):
                raise ValueError(f"{v.size} values for {n} rows")
            out[measure] = v
        except Exception as exc:  # noqa: BLE001 - any failure of the peer is recorded, never raised
            cache[peer_col] = None
            failures[measure] = f"{type(exc).__name__}: {one_line_error(exc)}"
            out[measure] = np.full(n, np.nan)
    return out


def _failure_reason(failures: dict[str, str], index: pd.Index, peer_name: str, why: str) -> Reason:
    msgs = sorted(set(failures.values()))
    return Reason(
        "peer_failed",
        f"{peer_name} raised {'; '.join(msgs)} computing {', '.join(failures)}" + (f" ({why})" if why else "")
        + "; its values are missing (NaN), regdiag's are defined",
        measures=frozenset(failures),
        rows=index,
    )


def _compare_sm_glm(res: Any, fit: Any, *, rtol: float | None, n_rows: int) -> Comparison:
    mle = type(res.model).__name__ in _DISCRETE
    sm_infl, observed, notes = _sm_glm_influence(res, mle)
    infl = quietly(fit.influence)
    names = list(fit.param_names)
    n = len(fit.index)
    getters = _sm_glm_columns(sm_infl, names)
    failures: dict[str, str] = {}
    theirs = _peer_columns(getters, n, failures)

    def ours_of(i: Any) -> dict[str, np.ndarray]:
        return _sm_glm_ours(i, names)

    ours = ours_of(infl)
    pairs = {m: (ours[m], theirs[m], getters[m][0]) for m in getters}
    reasons = _glm_reasons(fit, infl, res, sm_infl, names, observed, mle=mle)
    if failures:
        h = np.asarray(infl.leverage)
        why = ""
        if np.any(~(h < 1)):
            why = f"leverage 1 at rows {format_labels(list(fit.index[~(h < 1)]), 5)}"
        reasons.insert(0, _failure_reason(failures, fit.index, "statsmodels", why))
    peer = f"statsmodels {statsmodels_version()} GLMInfluence (get_influence(), observed={observed})"
    if mle:
        peer = f"statsmodels {statsmodels_version()} MLEInfluence of {type(res.model).__name__} (get_influence())"
    bound = _glm_bound(fit, ours_of, ours, delta=_statsmodels_distance(fit, res), rtol=rtol)
    notes.append(bound.note("statsmodels' fit"))
    cmp = build_comparison(pairs, fit.index, reasons, tol=bound, n_rows=n_rows, peer=peer, model=_describe(fit),
                           notes=notes)
    loose = bound.within_convergence_only(cmp)
    if loose:
        cmp = dataclasses.replace(cmp, notes=cmp.notes + (
            f"{', '.join(loose)} agree only within the allowance for statsmodels' convergence: their differences "
            "exceed rounding (a fit with a smaller tol, e.g. fit(tol=1e-12), removes them)",))
    return cmp


def _sm_glm_influence(res: Any, mle: bool) -> tuple[Any, bool, list[str]]:
    """statsmodels' influence object of a GLM (with the observed information, its default, unless that fails) or
    of a discrete model (``mle``), whether it used the observed information, and a note when it fell back."""
    observed = True  # statsmodels' default for GLMResults.get_influence(), and MLEInfluence's only choice
    notes: list[str] = []
    if mle:
        return quietly(res.get_influence), observed, notes
    try:
        sm_infl = quietly(lambda: res.get_influence(observed=observed))
        if not np.all(np.isfinite(sm_infl.hat_matrix_diag)):
            raise np.linalg.LinAlgError("non-finite hat values")
    except Exception as exc:  # noqa: BLE001
        observed = False
        notes.append(
            f"statsmodels' get_influence() fails on this fit ({one_line_error(exc)}: the observed information "
            "weights are negative for some rows); compared with get_influence(observed=False)"
        )
        sm_infl = quietly(lambda: res.get_influence(observed=False))
    return sm_infl, observed, notes


def _sm_glm_columns(sm_infl: Any, names: list[str]) -> dict[str, tuple[str, Callable[[], Any]]]:
    """Every column of statsmodels' GLMInfluence.summary_frame(), and the unscaled one-step changes behind dfb_*:
    how statsmodels names and computes each."""
    getters: dict[str, tuple[str, Callable[[], Any]]] = {
        "leverage": ("hat_diag", lambda: sm_infl.hat_matrix_diag),
        "standard_resid": ("standard_resid", lambda: sm_infl.resid_studentized),
        "cooks_distance": ("cooks_d", lambda: sm_infl.cooks_distance[0]),
        "dffits_internal": ("dffits_internal", lambda: sm_infl.d_fittedvalues_scaled),
    }
    for j, nm in enumerate(names):
        getters[f"dfbeta_{nm}"] = (f"d_params[:, {j}]", _column(lambda: sm_infl.d_params, j))
    for j, nm in enumerate(names):
        getters[f"dfbetas_{nm}"] = (f"dfb_{nm}", _column(lambda: sm_infl.dfbetas, j))
    return getters


def _sm_glm_ours(i: Any, names: list[str]) -> dict[str, np.ndarray]:
    """regdiag's values of the columns of :func:`_sm_glm_columns`, from the influence result ``i``."""
    out = {
        "leverage": i.leverage, "standard_resid": i.standard_resid, "cooks_distance": i.cooks_distance,
        "dffits_internal": i.dffits_internal,
    }
    for j, nm in enumerate(names):
        out[f"dfbeta_{nm}"] = np.asarray(i.dfbeta)[:, j]
    dfbs = np.asarray(i.dfbetas)
    for j, nm in enumerate(names):
        out[f"dfbetas_{nm}"] = dfbs[:, j]
    return out


# ---------------------------------------------------------------------------------------------------------------
# the bound on an agreeing difference

#: c in the rounding allowance c eps kappa |m| of a measure computed from one factorization of a design with
#: condition number kappa
ROUNDING_FACTOR = 100.0


@dataclass(frozen=True)
class _Bound:
    """Per-row bound on the difference between regdiag's and the peer's value of each measure: rounding
    ``c eps kappa max|m|`` plus, for a GLM, the effect of the peer's incomplete convergence
    ``2 delta ||grad m_i||`` (see :func:`_glm_bound`), plus the precision of a file and a user's ``rtol``."""

    rounding: float
    delta: float = 0.0
    gradient: dict[str, np.ndarray] = field(default_factory=dict)
    half_ulp: float = 0.0
    rtol: float = 0.0
    rho: float = 0.0

    def __call__(self, measure: str, theirs: np.ndarray) -> np.ndarray:
        finite = np.isfinite(theirs)
        scale = float(np.max(np.abs(theirs[finite]))) if finite.any() else 0.0
        allow = (self.rounding + self.rtol) * scale + 1.01 * self.half_ulp * np.abs(np.where(finite, theirs, 0.0))
        g = self.gradient.get(measure)
        if g is not None and self.delta > 0:
            allow = allow + 2.0 * self.delta * np.nan_to_num(g, nan=0.0, posinf=0.0)
        return allow + 1e3 * np.finfo(float).tiny

    def within_convergence_only(self, cmp: Comparison) -> list[str]:
        """Measures that agree only thanks to the allowance for the peer's convergence: some difference exceeds the
        rest of the bound."""
        if self.delta <= 0:
            return []
        rest = dataclasses.replace(self, delta=0.0)
        out = []
        for m, v in cmp.values.items():
            if not bool(cmp.table.loc[m, "agree"]):
                continue
            theirs = v["peer"].to_numpy(dtype=float)
            diff = np.abs(v["regdiag"].to_numpy(dtype=float) - theirs)
            ok = np.isfinite(diff)
            if np.any(diff[ok] > rest(m, theirs)[ok]):
                out.append(m)
        return out

    def note(self, who: str) -> str:
        text = f"agreement bound per measure: rounding {self.rounding:.2g} x its largest value"
        if self.delta > 0:
            text += (
                f", plus 2 x {self.delta:.2g} x the gradient norm of each row's value: {who} is within "
                f"{self.delta:.2g} "
                "of the maximum-likelihood fit in the information metric"
                + (f" (Fisher scoring contracts by {self.rho:.2g} per step here)" if self.rho > 0 else "")
            )
        if self.rtol:
            text += f", plus rtol = {self.rtol:g} x its largest value (given)"
        return text


def _raw_cond_of(A: np.ndarray) -> float:
    s = np.linalg.svd(A, compute_uv=False)
    s = s[s > s[0] * 1e-14] if s.size and s[0] > 0 else s
    return float(s[0] / s[-1]) if s.size else math.inf


def _kept(fit: Any) -> np.ndarray:
    return np.flatnonzero(np.isfinite(np.asarray(fit.coef, dtype=float)))


def _weighted_design(fit: Any, W: np.ndarray | None = None) -> np.ndarray:
    X = np.asarray(fit.design.X, dtype=float)[:, _kept(fit)]
    W = np.asarray(fit.working_weights, dtype=float) if W is None else W
    return X * np.sqrt(np.maximum(W, 0.0))[:, None]


def _scoring_rate(fit: Any) -> float:
    """Contraction factor of Fisher scoring at the optimum: the spectral radius of ``I - I_exp^-1 I_obs`` (0 for a
    canonical link, where scoring is Newton's method and converges quadratically)."""
    fam = fit.family
    if getattr(fam, "canonical", False):
        return 0.0
    A = _weighted_design(fit)
    used = np.asarray(fit.working_weights) > 0
    ratio = np.where(used, fam.observed_ratio(np.asarray(fit.y), np.asarray(fit.mu)), 0.0)
    I_e = A.T @ A
    I_o = (A.T * ratio) @ A
    try:
        M = np.linalg.solve(I_e, I_e - I_o)
        rho = float(np.max(np.abs(np.linalg.eigvals(M))))
    except np.linalg.LinAlgError:
        return math.inf
    return rho if np.isfinite(rho) else math.inf


def _deviance_to_distance(dev_change: float, rho: float) -> float:
    """Distance in the information metric ``||W^(1/2) X (b - b_hat)||`` of the iterate before the last one, given the
    last change in deviance: near the optimum ``D(b) - D(b_hat) = ||W^(1/2) X (b - b_hat)||^2`` to second order, and
    a step that contracts the distance by ``rho`` lowers the deviance by at least ``(1 - rho^2)`` times its square."""
    if not rho < 1:
        return math.inf
    return math.sqrt(max(dev_change, 0.0) / (1.0 - rho**2))


def _glm_state(fit: Any, beta: np.ndarray, beta_weights: np.ndarray | None = None) -> Any:
    """The fit moved to coefficients ``beta`` (aliased ones stay NaN), its IRLS weights at ``beta_weights``
    (default ``beta``): what a peer that stopped there describes."""
    from .linalg import qr_factor

    fam = fit.family
    X = np.asarray(fit.design.X, dtype=float)
    off = np.asarray(fit.offset, dtype=float)
    aliased = ~np.isfinite(np.asarray(fit.coef, dtype=float))
    b = np.where(aliased, 0.0, beta)
    bw = b if beta_weights is None else np.where(aliased, 0.0, beta_weights)
    pw = np.asarray(fit.prior_weights, dtype=float)
    with np.errstate(all="ignore"):
        eta = X @ b + off
        mu = fam.link.inverse(eta)
        eta_w = X @ bw + off
        mu_w = fam.link.inverse(eta_w)
        W = np.where(pw > 0, pw * fam.link.mu_eta(eta_w) ** 2 / fam.variance(mu_w), 0.0)
        dev = float(fam.deviance(np.asarray(fit.y), mu, pw))
    factor = qr_factor(X, np.sqrt(W), fit.factor.tol)
    coef = np.where(aliased, np.nan, b)
    return dataclasses.replace(
        fit, factor=factor, coef=coef, eta=eta, mu=mu, working_weights=W, deviance=dev, resid_exact=None
    )


def _sensitivity(
    fit: Any, values_of: Callable[[Any], dict[str, np.ndarray]], base: dict[str, np.ndarray], **kwargs: Any
) -> dict[str, np.ndarray]:
    """Per row, the norm of the gradient of each measure with respect to the coefficients in the information metric:
    ``sqrt(sum_k (dm_i / dt_k)^2)`` along directions ``u_k`` with ``W^(1/2) X u_k`` orthonormal (one closed-form
    evaluation of the measures per coefficient; forward differences)."""
    kept = _kept(fit)
    A = _weighted_design(fit)
    R = np.linalg.qr(A, mode="r")
    try:
        from scipy.linalg import solve_triangular

        U = solve_triangular(R, np.eye(len(kept)))
    except (ValueError, np.linalg.LinAlgError):
        return {}
    step = 1e-6
    acc = {m: np.zeros(len(fit.index)) for m in base}
    coef = np.asarray(fit.coef, dtype=float)
    for k in range(len(kept)):
        beta = np.where(np.isfinite(coef), coef, 0.0)
        beta[kept] += step * U[:, k]
        try:
            moved_fit = quietly(_glm_state, fit, beta)
            moved = values_of(quietly(moved_fit.influence, **kwargs))
        except (ArithmeticError, ValueError, np.linalg.LinAlgError):
            return {}
        for m in base:
            with np.errstate(invalid="ignore"):
                acc[m] += ((np.asarray(moved[m], dtype=float) - np.asarray(base[m], dtype=float)) / step) ** 2
    return {m: np.sqrt(v) for m, v in acc.items()}


def _statsmodels_distance(fit: Any, res: Any) -> float:
    """How far statsmodels' fit is from the optimum in the information metric ``||W^(1/2) (eta - eta_hat)||``: the
    larger of the distances of its coefficients and, after IRLS, of the iterate before them (its covariance comes
    from that iterate's weights; ``fit_history``). Without an IRLS history (Newton's method, discrete models) every
    quantity is evaluated at the final coefficients."""
    X = np.asarray(fit.design.X, dtype=float)
    W = np.asarray(fit.working_weights, dtype=float)
    off = np.asarray(fit.offset, dtype=float)
    eta = np.asarray(fit.eta, dtype=float)

    def dist(b: Any) -> float:
        b = np.asarray(b, dtype=float).reshape(-1)
        if b.shape != (X.shape[1],) or not np.all(np.isfinite(b)):
            return math.nan
        with np.errstate(all="ignore"):
            return float(np.linalg.norm(np.sqrt(W) * (X @ b + off - eta)))

    hist = getattr(res, "fit_history", None) or {}
    params = [b for b in hist.get("params", []) if np.ndim(b) == 1]
    measured = [dist(res.params)] + [dist(b) for b in params[-2:]]
    measured = [d for d in measured if np.isfinite(d)]
    return max(measured, default=0.0)


def _glm_bound(
    fit: Any,
    values_of: Callable[[Any], dict[str, np.ndarray]],
    base: dict[str, np.ndarray],
    *,
    delta: float,
    rtol: float | None,
    half_ulp: float = 0.0,
    **kwargs: Any,
) -> _Bound:
    """The bound for a GLM: rounding from the condition number of ``W^(1/2) X`` (no column scaling: neither R nor
    statsmodels scales), and the peer's distance ``delta`` from the optimum times each row's gradient norm."""
    kappa = _raw_cond_of(_weighted_design(fit))
    grad = _sensitivity(fit, values_of, base, **kwargs) if delta > 0 else {}
    return _Bound(
        rounding=ROUNDING_FACTOR * EPS * kappa, delta=delta, gradient=grad, half_ulp=half_ulp,
        rtol=float(rtol or 0.0), rho=_scoring_rate(fit),
    )


def _statsmodels_glm_formulas(
    fit: Any, infl: Any, observed: bool, freq_weights: np.ndarray | None = None, se_observed: bool = False
) -> dict[str, np.ndarray]:
    """statsmodels' ``GLMInfluence`` measures recomputed from regdiag's fit: hat of ``W^(1/2) X`` with the IRLS
    weights ``W`` (times the observed/expected ratio when ``observed``), internally studentized Pearson residuals,
    Cook's distance over the number of columns, one-step changes ``(A'A)^+ a_i r_P,i / (1 - h_i)`` and those over
    the full fit's standard errors. Dense p x p algebra: for comparison only.

    With ``freq_weights`` (statsmodels' replicated rows, which regdiag fitted as prior weights): the Pearson residual
    of one replicate, ``r_P,i / sqrt(f_i)``, and the dispersion on ``sum(f) - p`` residual degrees of freedom.
    With ``se_observed`` (statsmodels' ``MLEInfluence`` of a discrete model, whose covariance is the inverse observed
    information) the standard errors come from the same information as the hat matrix."""
    X = np.asarray(fit.design.X, dtype=float)
    k = X.shape[1]
    w = np.asarray(fit.working_weights, dtype=float)
    if observed:
        w = w * np.where(w > 0, fit.family.observed_ratio(np.asarray(fit.y), np.asarray(fit.mu)), 0.0)
    with np.errstate(invalid="ignore"):
        A = X * np.sqrt(w)[:, None]
    G = np.linalg.pinv(A.T @ A)
    AG = A @ G
    h = np.einsum("ij,ij->i", AG, A)
    phi = float(fit.dispersion)
    rp = np.asarray(infl.resid_pearson, dtype=float)
    if freq_weights is not None:
        f = np.asarray(freq_weights, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            rp = np.where(f > 0, rp / np.sqrt(f), 0.0)
        if not fit.family.fixed_dispersion:
            phi = phi * (len(f) - fit.rank) / (float(np.sum(f)) - fit.rank)
    if observed and not se_observed:  # GLMInfluence's standard errors: the IRLS (expected) information
        with np.errstate(invalid="ignore"):
            A_e = X * np.sqrt(np.asarray(fit.working_weights, dtype=float))[:, None]
        G_e = np.linalg.pinv(A_e.T @ A_e)
    else:
        G_e = G
    eta = np.asarray(fit.eta, dtype=float)
    lk = fit.family.link
    with np.errstate(divide="ignore", invalid="ignore"):
        r = rp / np.sqrt(phi * (1.0 - h))
        d_params = AG * (rp / (1.0 - h))[:, None]  # the one-step change has no phi
        bse = np.sqrt(phi * np.diag(G_e))
        # d_fittedvalues_scaled: the change in the mean at eta (with the offset) over the standard error of the
        # mean that get_prediction() gives, at the linear predictor without the offset
        d_fitted = lk.mu_eta(eta) * np.einsum("ij,ij->i", X, d_params)
        se_mean = np.abs(lk.mu_eta(eta - np.asarray(fit.offset, dtype=float))) * np.sqrt(
            phi * np.einsum("ij,jk,ik->i", X, G_e, X)
        )
        out = {
            "leverage": h, "standard_resid": r, "cooks_distance": r**2 * h / ((1.0 - h) * k),
            "dffits_internal": d_fitted / se_mean,
        }
        for j, nm in enumerate(fit.param_names):
            out[f"dfbeta_{nm}"] = d_params[:, j]
            out[f"dfbetas_{nm}"] = d_params[:, j] / bse[j]
    return out


def _statsmodels_mle_formulas(fit: Any, infl: Any) -> dict[str, np.ndarray]:
    """statsmodels' ``MLEInfluence`` (discrete Logit / Probit / Poisson) recomputed from regdiag's fit: with the
    observed information ``I = X' W_obs X`` in the middle and the expected weight ``W`` outside, the generalized
    leverage ``h_i = W_i x_i' I^+ x_i``, one-step changes ``I^+ x_i sqrt(W_i) r_P,i / (1 - h_i)`` (the score of row i
    over ``1 - h_i``), Cook's distance ``d' I d / k``, standardized residuals ``r_P / sqrt(1 - h)``, standard errors
    and the standard error of the mean from ``I^+``. The same as the GLM formulas for a canonical link."""
    X = np.asarray(fit.design.X, dtype=float)
    k = X.shape[1]
    W = np.asarray(fit.working_weights, dtype=float)
    ratio = np.where(W > 0, fit.family.observed_ratio(np.asarray(fit.y), np.asarray(fit.mu)), 0.0)
    info = (X.T * (W * ratio)) @ X
    G = np.linalg.pinv(info)
    XG = X @ G
    rp = np.asarray(infl.resid_pearson, dtype=float)
    lk = fit.family.link
    eta = np.asarray(fit.eta, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = W * np.einsum("ij,ij->i", XG, X)
        d_params = XG * (np.sqrt(W) * rp / (1.0 - h))[:, None]
        bse = np.sqrt(np.diag(G))
        d_fitted = lk.mu_eta(eta) * np.einsum("ij,ij->i", X, d_params)
        se_mean = np.abs(lk.mu_eta(eta - np.asarray(fit.offset, dtype=float))) * np.sqrt(np.einsum("ij,ij->i", XG, X))
        out = {
            "leverage": h, "standard_resid": rp / np.sqrt(1.0 - h),
            "cooks_distance": np.einsum("ij,jk,ik->i", d_params, info, d_params) / k,
            "dffits_internal": d_fitted / se_mean,
        }
        for j, nm in enumerate(fit.param_names):
            out[f"dfbeta_{nm}"] = d_params[:, j]
            out[f"dfbetas_{nm}"] = d_params[:, j] / bse[j]
    return out


def _freq_weights(res: Any) -> np.ndarray | None:
    """statsmodels' ``freq_weights`` of a GLM, when they are not all 1."""
    f = getattr(getattr(res, "model", None), "freq_weights", None)
    if f is None:
        return None
    f = np.asarray(f, dtype=float)
    return f if f.ndim == 1 and np.any(f != 1.0) else None


def _freq_weights_reason(fit: Any, infl: Any, freq: np.ndarray, names: list[str], observed: bool) -> Reason:
    """statsmodels' freq_weights: replicated rows, where regdiag (like R's glm weights) has prior weights."""
    pred = _statsmodels_glm_formulas(fit, infl, observed=observed, freq_weights=freq)
    predicted = {m: pred[m] for m in ("standard_resid", "cooks_distance", "dffits_internal")}
    for nm in names:
        predicted[f"dfbeta_{nm}"] = pred[f"dfbeta_{nm}"]
        predicted[f"dfbetas_{nm}"] = pred[f"dfbetas_{nm}"]
    fixed = fit.family.fixed_dispersion
    return Reason(
        "freq_weights",
        "the statsmodels model has freq_weights (from "
        f"{format(float(np.min(freq)), 'g')} to {format(float(np.max(freq)), 'g')}): statsmodels counts row i as "
        "f_i replicated observations, and its GLMInfluence combines the leverage of all f_i replicates with the "
        "Pearson residual of one, (y_i - mu_i) / sqrt(V(mu_i)) without the factor sqrt(f_i)"
        + ("" if fixed else ", and a dispersion on sum(f) - p residual degrees of freedom")
        + "; regdiag, like R's glm(weights = f), treats f_i as a prior weight (one observation with f_i times the "
        "precision, Pearson residual sqrt(f_i) (y_i - mu_i) / sqrt(V(mu_i))). So statsmodels' standardized "
        "residuals and one-step changes are regdiag's (Pearson-based) ones over sqrt(f_i), its Cook's distance "
        "over f_i (with its dfbetas also over the full fit's standard error)",
        predicted=predicted,
        measures=frozenset(predicted),
    )


def _glm_reasons(
    fit: Any, infl: Any, res: Any, sm_infl: Any, names: list[str], observed: bool, mle: bool = False
) -> list[Reason]:
    """Situations in which statsmodels' GLMInfluence computes something else than regdiag, each with the values
    regdiag computes under statsmodels' convention, one difference at a time (the first reason that reproduces a
    measure is the one reported)."""
    obs_sm = observed and not bool(getattr(fit.family, "canonical", False))
    freq = _freq_weights(res)
    expected = _statsmodels_glm_formulas(fit, infl, observed=False)
    found = [
        _freq_weights_reason(fit, infl, freq, names, obs_sm) if freq is not None else None,
        _pearson_deviance_reason(infl, expected, names),
        _dfbetas_scale_reason(fit, infl, names),
        _decreasing_link_reason(fit, expected),
        *_rank_reasons(fit, infl, names, obs_sm, mle),
        _offset_reason(fit, infl, obs_sm, mle),
        _observed_information_reason(fit, infl, mle) if obs_sm else None,
        _sm_leverage_one_reason(fit, infl),
    ]
    return [r for r in found if r is not None]


def _pearson_deviance_reason(infl: Any, expected: dict[str, np.ndarray], names: list[str]) -> Reason:
    """statsmodels studentizes Pearson residuals (and takes its one-step changes with them)."""
    pear: dict[str, np.ndarray] = {"standard_resid": expected["standard_resid"]}
    if getattr(infl, "residual", "pearson") != "pearson":
        pear.update({f"dfbeta_{nm}": expected[f"dfbeta_{nm}"] for nm in names})
    return Reason(
        "pearson_deviance",
        "statsmodels studentizes the Pearson residuals r_P / sqrt(phi (1 - h)) and takes its one-step changes "
        "with them; regdiag's standard_resid is R's rstandard of the deviance residuals"
        + (", and this fit's dfbeta uses deviance residuals (residual='deviance', R's dfbeta.glm)"
           if len(pear) > 1 else ""),
        predicted=pear,
        measures=frozenset(pear),
    )


def _dfbetas_scale_reason(fit: Any, infl: Any, names: list[str]) -> Reason:
    """statsmodels' GLM dfbetas divide by the full fit's standard errors."""
    with np.errstate(divide="ignore", invalid="ignore"):
        bse = np.sqrt(float(fit.dispersion) * np.asarray(infl.cov_unscaled_diag))
        scaled = {f"dfbetas_{nm}": np.asarray(infl.dfbeta)[:, j] / bse[j] for j, nm in enumerate(names)}
    return Reason(
        "dfbetas_scale",
        "statsmodels' GLM dfbetas divide the change by the full fit's standard error sqrt(phi [(X'WX)^-1]_jj); "
        "regdiag's by sqrt(phi_(i) [(X'WX)^-1]_jj) with the dispersion phi_(i) re-estimated without the row "
        "(the same where the dispersion is fixed, as for binomial and Poisson), or, with residual='deviance', "
        "like R's by the deviance-residual deletion sigma_(i)",
        predicted=scaled,
        measures=frozenset(scaled),
    )


def _decreasing_link_reason(fit: Any, expected: dict[str, np.ndarray]) -> Reason | None:
    """A decreasing link: statsmodels' one-step changes drop the sign of g'(mu)."""
    fam = fit.family
    mu = np.asarray(fit.mu, dtype=float)
    used = np.asarray(fit.prior_weights) > 0
    if not (used.any() and np.all(np.asarray(fam.link.deriv(mu[used])) < 0)):
        return None
    sign = {m: expected[m] for m in expected if m.startswith("dfbeta")}
    return Reason(
        "decreasing_link",
        f"the {getattr(fam.link, 'name', fam.link)} link decreases (g'(mu) < 0): statsmodels' one-step "
        "change sqrt(W_i) r_P,i (X'WX)^-1 x_i / (1 - h_i) drops the sign of g'(mu), so its d_params and "
        "dfbetas point the wrong way (its own leave-one-out refits move the coefficients the other way); "
        "regdiag's agree with the refits",
        predicted=sign,
        measures=frozenset(sign),
    )


def _rank_reasons(fit: Any, infl: Any, names: list[str], obs_sm: bool, mle: bool) -> list[Reason]:
    """A rank-deficient design: statsmodels divides Cook's distance by the columns and reports minimum-norm
    changes; and the aliased columns."""
    if fit.rank >= len(names):
        return []
    p, k = fit.rank, len(names)
    sm_rank = _statsmodels_glm_formulas(fit, infl, observed=obs_sm, se_observed=mle)
    pred = {"cooks_distance": np.asarray(infl.cooks_distance) * p / k}
    pred.update({m: v for m, v in sm_rank.items() if m.startswith("dfbeta")})
    rank = Reason(
        "rank_deficient",
        f"the design has rank {p} < {k} columns: statsmodels divides Cook's distance by the {k} columns "
        f"instead of the rank {p} (its values are regdiag's times {p}/{k}) and reports the minimum-norm "
        "(pseudo-inverse) coefficient changes where regdiag, like R, reports the basic solution",
        predicted=pred,
        measures=frozenset(pred),
    )
    aliased = _aliased_reason(fit)
    return [rank] if aliased is None else [rank, aliased]


def _offset_reason(fit: Any, infl: Any, obs_sm: bool, mle: bool) -> Reason | None:
    """An offset: statsmodels' dffits_internal leaves it out of the standard error of the mean."""
    off = np.asarray(fit.offset, dtype=float)
    if not np.any(off != 0):
        return None
    sm_off = _statsmodels_glm_formulas(fit, infl, observed=obs_sm, se_observed=mle)
    lk = fit.family.link
    with np.errstate(all="ignore"):
        ratio = np.asarray(lk.mu_eta(np.asarray(fit.eta)) / lk.mu_eta(np.asarray(fit.eta) - off))
    return Reason(
        "offset_ignored",
        "the model has an offset, and statsmodels' dffits_internal (d_fittedvalues_scaled) divides the change "
        "in the mean at the linear predictor with the offset by the standard error of the mean from "
        "get_prediction(), which leaves the offset out: its values are regdiag's times "
        f"mu'(eta) / mu'(eta - offset) (from {np.nanmin(np.abs(ratio)):.3g} to {np.nanmax(np.abs(ratio)):.3g} "
        "here; exp(offset) for the log link)",
        predicted={"dffits_internal": sm_off["dffits_internal"]},
        measures=frozenset({"dffits_internal"}),
    )


def _observed_information_reason(fit: Any, infl: Any, mle: bool) -> Reason:
    """A non-canonical link: statsmodels uses the observed information, regdiag (like R) the expected."""
    fam = fit.family
    obs = _statsmodels_mle_formulas(fit, infl) if mle else _statsmodels_glm_formulas(fit, infl, observed=True)
    return Reason(
        "observed_information",
        f"the {getattr(fam.link, 'name', fam.link)} link is not canonical for the {fam.name} family, so the "
        "observed and expected information differ: "
        + ("statsmodels' MLEInfluence takes the generalized leverage W_i x_i' I_obs^-1 x_i, the one-step "
           "changes, Cook's distance and the standard errors with the observed information I_obs (and "
           "studentizes Pearson residuals), regdiag, like R, the expected (Fisher) information"
           if mle else
           "statsmodels' get_influence() weights the hat matrix and the one-step changes with the observed "
           "information (and studentizes Pearson residuals), regdiag, like R, with the expected (Fisher) "
           "information; influence(observed=True) gives statsmodels' hat values"),
        predicted=obs,
        measures=frozenset(obs),
    )


def _sm_leverage_one_reason(fit: Any, infl: Any) -> Reason | None:
    """Rows of leverage 1: NaN in regdiag, a division by about 0 in statsmodels."""
    h = np.asarray(infl.leverage)
    one = np.flatnonzero(~(h < 1))
    if not one.size:
        return None
    return Reason(
        "leverage_one",
        f"leverage 1 at rows {format_labels(list(fit.index[one]), 5)}: regdiag reports NaN for the deletion "
        "measures, statsmodels divides by 1 - h (about 0)",
        measures=frozenset({"*"}),
        rows=fit.index[one],
    )


# ---------------------------------------------------------------------------------------------------------------
# R's influence.measures in a CSV


_R_COLUMNS = ("dffit", "cov.r", "cook.d", "hat")
#: other columns of R's output, by the names ``data.frame(..., check.names = FALSE)`` gives them
_R_EXTRA = (
    "hatvalues", "cooks.distance", "rstandard", "rstandard.deviance", "rstandard.pearson", "rstudent",
    "rstudent.deviance", "rstudent.pearson",
)
#: car::outlierTest's columns (a file of their own: car leaves out rows whose rstudent is NaN)
_R_OUTLIER = ("unadjusted.p", "bonferroni.p")


def _read_reference(reference: Any) -> tuple[pd.DataFrame, int | None, str]:
    """The table, the significant digits its numbers were written with (None for a DataFrame), and its name."""
    if isinstance(reference, pd.DataFrame):
        df = reference.copy()
        df.index = df.index.map(str)
        return df, None, "DataFrame"
    path = Path(reference)
    if not path.is_file():
        raise DataError(
            f"no such file: {path}. Write it in R with write.csv(influence.measures(fit)$infmat, \"{path.name}\")"
        )
    try:
        text = path.read_text(encoding="utf-8")
        df = pd.read_csv(path, index_col=0, keep_default_na=True, dtype={0: str})
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise DataError(f"cannot read {path} as a CSV table: {exc}") from exc
    df.index = df.index.map(str)
    numbers = re.findall(r"(?<![\w.])-?(\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?", text.split("\n", 1)[-1])
    digits = max((len(n.replace(".", "").lstrip("0")) for n in numbers), default=15) if numbers else None
    return df, digits, path.name


def _r_coef_name(name: str) -> str:
    from .results import INTERCEPT_NAMES, r_term_name

    return "(Intercept)" if name in INTERCEPT_NAMES else r_term_name(name)


def _r_column_map(infl: Any, columns: list[str], notes: list[str], name: str) -> dict[str, tuple[str, int | None]]:
    """R column -> (quantity, coefficient index or None), for the columns regdiag has a counterpart of."""
    kept = infl.kept_columns()
    out: dict[str, tuple[str, int | None]] = {}
    dfb = [c for c in columns if c.startswith("dfb.")]
    ours_dfb = infl.r_dfbeta_names()
    if sorted(dfb) == sorted(ours_dfb):
        out.update({c: ("dfb", kept[ours_dfb.index(c)]) for c in dfb})
    elif dfb and len(dfb) == len(ours_dfb):
        notes.append(f"coefficient columns matched by position: {dict(zip(dfb, ours_dfb))}")
        out.update({c: ("dfb", kept[i]) for i, c in enumerate(dfb)})
    elif dfb:
        notes.append(f"columns of {name} with no regdiag counterpart: {', '.join(dfb)}")
    r_names = {_r_coef_name(infl.param_names[j]): j for j in kept}
    for kind in ("dfbeta", "dfbetas"):
        cols = [c for c in columns if c.startswith(kind + ".") and not (kind == "dfbeta" and c.startswith("dfbetas."))]
        unmatched = [c for c in cols if c[len(kind) + 1:] not in r_names]
        if unmatched and len(cols) == len(kept):
            notes.append(f"{kind} columns of {name} matched by position")
            out.update({c: (kind, kept[i]) for i, c in enumerate(cols)})
        else:
            out.update({c: (kind, r_names[c[len(kind) + 1:]]) for c in cols if c not in unmatched})
            if unmatched:
                notes.append(f"columns of {name} with no regdiag counterpart: {', '.join(unmatched)}")
    for c in columns:
        if c in _R_COLUMNS or c in _R_EXTRA:
            out[c] = (c, None)
    return out


def _r_value(infl: Any, quantity: str, j: int | None, convention: str) -> np.ndarray:
    """regdiag's value of an R column: ``convention="regdiag"`` what regdiag reports by default, ``"R"`` the number
    under R's conventions (which differ for a GLM's dfbeta: R's ``dfbeta.glm`` takes deviance residuals, and its
    dfbetas R's deletion sigma)."""
    from .results import GLMInfluence  # scipy.stats: loaded when first compared, not on import regdiag

    glm = isinstance(infl, GLMInfluence)
    h = np.asarray(infl.leverage, dtype=float)
    if quantity in ("dfb", "dfbetas"):
        return np.asarray(infl.dfbetas_as("R") if (glm and convention == "R") else infl.dfbetas)[:, j]
    if quantity == "dfbeta":
        return np.asarray(infl.dfbeta_as("R") if (glm and convention == "R") else infl.dfbeta)[:, j]
    if quantity == "dffit":
        return np.asarray(infl.dffits)
    if quantity == "cov.r":
        return np.asarray(infl.cov_ratio)
    if quantity in ("cook.d", "cooks.distance"):
        return np.asarray(infl.cooks_distance_as("R") if (glm and convention == "R") else infl.cooks_distance)
    if quantity in ("hat", "hatvalues"):
        return h
    if quantity in ("rstandard", "rstandard.deviance"):
        return np.asarray(infl.standard_resid)
    if quantity == "rstandard.pearson":
        return np.asarray(infl.standard_resid_pearson if glm else infl.standard_resid)
    if quantity in ("rstudent", "rstudent.deviance"):
        return np.asarray(infl.student_resid)
    if quantity == "rstudent.pearson":  # R's rstudent.glm has no type argument: it ignores type = "pearson"
        return np.asarray(infl.student_resid)
    raise KeyError(quantity)


def _outlier_values(infl: Any, capped: bool) -> dict[str, np.ndarray]:
    ot = quietly(lambda: infl.outlier_test(cutoff=None, n_max=None)).reindex(infl.index)
    out = {
        "outlierTest.rstudent": ot["student_resid"].to_numpy(dtype=float),
        "outlierTest.unadjusted.p": ot["unadjusted_p"].to_numpy(dtype=float),
    }
    if capped:
        out["outlierTest.bonferroni.p"] = ot["bonferroni_p"].to_numpy(dtype=float)
    else:  # car's own number: n p, not capped at 1
        p = ot["unadjusted_p"].to_numpy(dtype=float)
        out["outlierTest.bonferroni.p"] = p * int(np.isfinite(p).sum())
    return out


def _compare_r(results: Any, reference: Any, *, rtol: float | None, n_rows: int, epsilon: float) -> Comparison:
    refs = [_read_reference(r) for r in (reference if isinstance(reference, (list, tuple)) else [reference])]
    if is_statsmodels(results):
        results = _regdiag_fit_of(results)
    infl = results if hasattr(results, "leverage") else quietly(results.influence)
    fit = getattr(infl, "fit", None)
    notes: list[str] = []
    reasons: list[Reason] = []
    digits = [d for _, d, _ in refs if d is not None]
    names = [nm for _, _, nm in refs]
    main, outlier = _split_references(refs)
    index_frame = pd.DataFrame(index=infl.index.map(str))
    pairs: dict[str, tuple[np.ndarray, np.ndarray, str]] = {}
    columns, ref_columns, common = _r_reference_columns(main, infl, index_frame, notes, reasons)
    pos = pd.Index(index_frame.index).get_indexer(common)
    if np.any(pos < 0):
        pos = np.asarray([index_frame.index.get_loc(c) for c in common])
    labels = infl.index[pos]

    # car's outlierTest lists only its most extreme rows (n.max, cutoff) and none whose rstudent is NaN: the
    # outlier measures are compared on the rows it lists
    listed = None if outlier is None else pd.Index(common).isin(outlier[0].index.map(str))

    def values_of(i: Any, convention: str) -> dict[str, np.ndarray]:
        out = {c: _r_value(i, q, j, convention)[pos] for c, (q, j) in columns.items()}
        if listed is not None:  # an outlierTest file was given
            out.update({m: np.where(listed, v[pos], np.nan)
                        for m, v in _outlier_values(i, capped=convention == "regdiag").items()})
        return out

    ours = values_of(infl, "regdiag")
    for col in columns:
        pairs[col] = (ours[col], ref_columns[col].reindex(common).to_numpy(dtype=float), col)
    if outlier is not None:
        ref, name = outlier
        ref = ref.set_axis(ref.index.map(str))
        for c in ("rstudent",) + _R_OUTLIER:
            if c in ref.columns:
                m = f"outlierTest.{c}"
                pairs[m] = (ours[m], ref[c].reindex(common).to_numpy(dtype=float), f"{name}: {c}")
        notes.append(f"{name}: car::outlierTest lists only its most extreme rows (n.max, cutoff) and none whose "
                     "rstudent is NaN; compared on the rows it lists")
    r_conv = values_of(infl, "R")
    glm = is_glm(fit)
    reasons += _r_reasons(infl, fit, labels, pairs, r_conv, values_of, epsilon)
    half_ulp = 0.5 * 10.0 ** (1 - min(digits)) if digits else 0.0
    if digits and min(digits) < 15:
        notes.append(f"{', '.join(names)} hold {min(digits)} significant digits: differences within their rounding "
                     "count as agreement")
    bound = _r_bound(infl, fit, {m: r_conv[m] for m in pairs}, lambda i: values_of(i, "R"), epsilon=epsilon,
                     rtol=rtol, half_ulp=half_ulp)
    notes.append(bound.note(f"R's fit (glm.control(epsilon = {epsilon:g}))" if glm and fit is not None else ""))
    peer = f"R ({', '.join(names)})"
    if len(names) == 1 and set(pairs) <= set(_R_COLUMNS) | {c for c in pairs if c.startswith("dfb.")}:
        peer = f"R influence.measures ({names[0]})"
    model = _describe(fit) if fit is not None else repr(infl)
    cmp = build_comparison(pairs, labels.map(str), reasons, tol=bound, n_rows=n_rows, peer=peer, model=model,
                           notes=notes)
    if glm:
        loose = bound.within_convergence_only(cmp)
        if loose:
            cmp = dataclasses.replace(cmp, notes=cmp.notes + (
                f"{', '.join(loose)} agree only within the allowance for R's convergence (glm.control(epsilon = "
                f"{epsilon:g})): their differences exceed rounding; " + _r_advice(fit),))
    return cmp


def _split_references(
    refs: list[tuple[pd.DataFrame, int | None, str]],
) -> tuple[list[tuple[pd.DataFrame, str]], tuple[pd.DataFrame, str] | None]:
    """The files of R's measures (their known columns, checked numeric) and car's outlierTest file, if any."""
    main: list[tuple[pd.DataFrame, str]] = []
    outlier: tuple[pd.DataFrame, str] | None = None
    for ref, _, name in refs:
        cols = [str(c) for c in ref.columns]
        if any(c in _R_OUTLIER for c in cols):
            outlier = (ref, name)
            continue
        known = [c for c in cols if c.startswith(_DFB_PREFIXES) or c in _R_COLUMNS or c in _R_EXTRA]
        if not known:
            raise DataError(
                f"{name} has none of influence.measures' columns (dfb.*, dffit, cov.r, cook.d, hat) nor any other "
                "column regdiag knows (hatvalues, cooks.distance, rstandard, rstudent, dfbeta.*, ...); write it in R "
                "with write.csv(influence.measures(fit)$infmat, file)"
            )
        bad = [c for c in known if not pd.api.types.is_numeric_dtype(ref[c])]
        if bad:
            raise DataError(f"{name}: column {bad[0]!r} is not numeric")
        main.append((ref[known], name))
    return main, outlier


def _r_reference_columns(
    main: list[tuple[pd.DataFrame, str]], infl: Any, index_frame: pd.DataFrame, notes: list[str],
    reasons: list[Reason],
) -> tuple[dict[str, tuple[str, int | None]], dict[str, pd.Series], pd.Index]:
    """Each R column compared (the quantity and coefficient it is), R's values of it on its file's rows, and the
    rows every file has (all rows with an outlierTest file alone). Notes and reasons about the rows are added."""
    columns: dict[str, tuple[str, int | None]] = {}
    ref_columns: dict[str, pd.Series] = {}  # R's values of each column of ``columns``, on that file's rows
    common = None
    for ref, name in main:
        _, ref = _match_rows(index_frame, ref, infl, notes, reasons, name)
        common = ref.index if common is None else common.intersection(ref.index, sort=False)
        cmap = _r_column_map(infl, list(ref.columns), notes, name)
        for col, what in cmap.items():
            if col not in columns:
                columns[col] = what
                ref_columns[col] = ref[col]
    if common is None:  # an outlierTest file alone
        common = index_frame.index
    return columns, ref_columns, common


def _r_bound(
    infl: Any, fit: Any, base: dict[str, np.ndarray], values_at_r: Callable[[Any], dict[str, np.ndarray]], *,
    epsilon: float, rtol: float | None, half_ulp: float,
) -> _Bound:
    """The allowance for each measure against R: for a GLM, R's convergence at ``epsilon`` (the measures moved by
    :func:`_glm_bound`); else rounding with the design's condition number; both with the file's digits."""
    if is_glm(fit) and fit is not None:
        delta = _deviance_to_distance(epsilon * (abs(float(fit.deviance)) + 0.1), _scoring_rate(fit))
        return _glm_bound(fit, values_at_r, base, delta=delta, rtol=rtol, half_ulp=half_ulp,
                          observed=bool(getattr(infl, "observed", False)))
    return _Bound(rounding=ROUNDING_FACTOR * EPS * _raw_cond(fit) if fit is not None else 1e-12,
                  half_ulp=half_ulp, rtol=float(rtol or 0.0))


def _match_rows(
    ours: pd.DataFrame, ref: pd.DataFrame, infl: Any, notes: list[str], reasons: list[Reason], name: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Align rows by label (R's row names), or by position when R numbered rows 1..n and regdiag's labels differ."""
    w = infl.weights
    used = np.ones(len(ours), dtype=bool) if w is None else np.asarray(w) > 0
    common = ours.index.intersection(ref.index, sort=False)
    numbered = list(ref.index) == [str(i) for i in range(1, len(ref) + 1)]
    zero_based = list(ours.index) == [str(i) for i in range(len(ours))]
    if len(common) == 0 or (numbered and zero_based):
        if numbered and len(ref) in (len(ours), int(used.sum())):
            ours_used = ours.loc[used] if len(ref) != len(ours) else ours
            notes.append(f"{name} numbers its rows 1..{len(ref)}; matched to regdiag's rows by position")
            ref = ref.set_axis(ours_used.index)
            common = ours_used.index
        else:
            raise DataError(
                f"no row of {name} matches a row label of the fit (file: {format_labels(list(ref.index), 3)}; fit: "
                f"{format_labels(list(ours.index), 3)}). Use the same row names in R and regdiag (index_col=...)"
            )
    only_ours = ours.index.difference(ref.index, sort=False)
    only_ref = ref.index.difference(ours.index, sort=False)
    if len(only_ours):
        zero = ours.index[~used]
        if len(zero) and set(only_ours) <= set(zero):
            notes.append(
                f"rows with zero weight ({format_labels(list(only_ours), 5)}) are not in {name}: R's "
                "influence.measures leaves them out (regdiag keeps them with leverage 0 and NaN measures)"
            )
        else:
            notes.append(f"rows of the fit not in {name}: {format_labels(list(only_ours), 5)}")
    if len(only_ref):
        notes.append(f"rows of {name} not in the fit: {format_labels(list(only_ref), 5)}")
    return ours.loc[common], ref.loc[common]


def _r_default_glm(fit: Any, epsilon: float = 1e-8, maxit: int = 25) -> tuple[int, Any] | None:
    """R's ``glm.fit`` with ``glm.control(epsilon, maxit)``, replayed: starting means from the family's
    ``initialize``, Fisher scoring (on the columns R keeps: aliased ones dropped) until
    ``|dev - dev_old| / (|dev| + 0.1) < epsilon``, keeping the working weights computed *before* the last update
    (as ``fit$weights`` does). Returns the iterations and the fit moved to that state, or None when it cannot be
    replayed."""
    fam = fit.family
    d = fit.design
    X = np.asarray(d.X, dtype=float)
    kept = _kept(fit)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            y, w, _, mustart = fam.prepare(d.y, d.weights, d.index, d.response_name)
            off = np.zeros(len(y)) if d.offset is None else np.asarray(d.offset, dtype=float)
            lk = fam.link
            eta = lk.link(mustart)
            mu = lk.inverse(eta)
            dev_old = fam.deviance(y, mu, w)
            beta = np.zeros(X.shape[1])
            beta_w = None
            for it in range(1, maxit + 1):
                me = lk.mu_eta(eta)
                W = np.where(w > 0, w * me**2 / fam.variance(mu), 0.0)
                z = eta - off + (y - mu) / me
                sw = np.sqrt(W)
                good = W > 0
                beta_w = None if it == 1 else beta.copy()
                beta = np.zeros(X.shape[1])
                beta[kept] = np.linalg.lstsq(X[good][:, kept] * sw[good, None], z[good] * sw[good], rcond=None)[0]
                eta = X @ beta + off
                mu = lk.inverse(eta)
                dev = fam.deviance(y, mu, w)
                if abs(dev - dev_old) / (abs(dev) + 0.1) < epsilon:
                    break
                dev_old = dev
            if not np.all(np.isfinite(beta)):
                return None
            if beta_w is None:  # weights of R's starting means: not a coefficient vector; rebuild them
                state = _glm_state(fit, beta)
                from .linalg import qr_factor

                W0 = np.where(w > 0, w * lk.mu_eta(lk.link(mustart)) ** 2 / fam.variance(mustart), 0.0)
                state = dataclasses.replace(state, working_weights=W0, factor=qr_factor(X, np.sqrt(W0), fit.factor.tol))
            else:
                state = _glm_state(fit, beta, beta_w)
            if not fam.fixed_dispersion and fit.dispersion_fixed is None:
                # summary.glm's dispersion: the working residuals of the last iterate weighted by fit$weights (from
                # the iterate before), sum(W (y - mu)^2 / mu'(eta)^2) / df, not Pearson's chi-square at either
                Ws = np.asarray(state.working_weights)
                zr = (y - np.asarray(state.mu)) / lk.mu_eta(np.asarray(state.eta))
                phi = float(np.sum((Ws * zr**2)[Ws > 0])) / fit.df_resid
                state = dataclasses.replace(state, dispersion_fixed=phi)
    except (ArithmeticError, ValueError, TypeError, np.linalg.LinAlgError):
        return None
    return it, state


def _r_advice(fit: Any) -> str:
    if fit.rank < len(fit.param_names):
        return (
            "to compare the converged fit, restart R from its coefficients, the aliased ones at 0: "
            "glm(..., start = ifelse(is.na(coef(fit)), 0, coef(fit)), control = glm.control(epsilon = 1e-10, "
            "maxit = 100)); keep epsilon at 1e-10 or above on this model: glm.fit's QR tolerance is "
            "min(1e-7, epsilon / 1000), and smaller values stop it from detecting the aliased columns"
        )
    return (
        "to compare the converged fit, restart R from its coefficients: glm(..., start = coef(fit), "
        "control = glm.control(epsilon = 1e-14, maxit = 100)) (a smaller epsilon alone does not help: R stops "
        "after the same iterations)"
    )


def _r_reasons(
    infl: Any,
    fit: Any,
    labels: pd.Index,
    pairs: dict[str, Any],
    r_conv: dict[str, np.ndarray],
    values_of: Callable[[Any, str], dict[str, np.ndarray]],
    epsilon: float,
) -> list[Reason]:
    """Every documented reason why R's numbers differ from ours, for the measures compared (``pairs``)."""
    h = np.asarray(infl.leverage, dtype=float)[np.asarray(infl.index.map(str).get_indexer(labels.map(str)))]
    glm = is_glm(fit)
    dfb_cols = [m for m in pairs if m.startswith(_DFB_PREFIXES)]
    found = [_leverage_one_reason(labels, h, pairs, r_conv), _bonferroni_reason(pairs, r_conv)]
    if glm:
        found += [_car_t_reason(infl, fit, pairs, r_conv), _deviance_dfbeta_reason(infl, dfb_cols, r_conv),
                  _exact_vs_one_step_reason(infl, pairs, r_conv)]
        before = [r for r in found if r is not None]
        found += _convergence_reasons(infl, fit, pairs, dfb_cols, values_of, epsilon, before[-1] if before else None)
    found += [_different_model_reason(pairs), _observed_reason(infl, fit, pairs, values_of) if glm else None]
    return [r for r in found if r is not None]


#: R's column names of the coefficient changes
_DFB_PREFIXES = ("dfb.", "dfbeta.", "dfbetas.")


def _leverage_one_reason(labels: pd.Index, h: np.ndarray, pairs: dict[str, Any],
                         r_conv: dict[str, np.ndarray]) -> Reason | None:
    """Rows of leverage 1: R sets their coefficient changes to 0, regdiag every deletion measure to NaN."""
    one = labels.map(str)[~(h < 1)]
    if not len(one):
        return None
    pred = {}
    for m in pairs:
        if m.startswith(_DFB_PREFIXES):
            p = np.asarray(r_conv[m], dtype=float).copy()
            p[~(h < 1)] = 0.0
            pred[m] = p
    return Reason(
        "leverage_one",
        f"leverage 1 at rows {format_labels(list(one), 5)}: R's lm.influence sets their coefficient "
        "changes to 0 and their dffit, cov.r and cook.d to NaN; regdiag reports every deletion measure "
        "as NaN (deleting the row makes a coefficient unidentifiable)",
        predicted=pred,
        measures=frozenset({"*"}),
        rows=one,
    )


def _bonferroni_reason(pairs: dict[str, Any], r_conv: dict[str, np.ndarray]) -> Reason | None:
    """car's Bonferroni p-value is not capped at 1."""
    if "outlierTest.bonferroni.p" not in pairs:
        return None
    return Reason(
        "bonferroni_not_capped",
        "car's outlierTest reports the Bonferroni p-value n p without capping it at 1 (its print method "
        "shows values above 1 as NA); regdiag caps it at 1",
        predicted={"outlierTest.bonferroni.p": r_conv["outlierTest.bonferroni.p"]},
        measures=frozenset({"outlierTest.bonferroni.p"}),
    )


def _car_t_reason(infl: Any, fit: Any, pairs: dict[str, Any], r_conv: dict[str, np.ndarray]) -> Reason | None:
    """car refers a non-"glm" GLM's studentized residuals to Student's t, regdiag to the normal distribution."""
    if "outlierTest.unadjusted.p" not in pairs:
        return None
    from scipy import stats

    t = np.asarray(pairs["outlierTest.rstudent"][0] if "outlierTest.rstudent" in pairs
                   else r_conv["outlierTest.unadjusted.p"] * np.nan, dtype=float)
    df = float(fit.df_resid) - 1.0
    p_t = 2.0 * stats.t.sf(np.abs(t), df)
    pred = {"outlierTest.unadjusted.p": p_t}
    if "outlierTest.bonferroni.p" in pairs:
        # car's n: every row with a studentized residual, not only the rows its output lists
        n_tested = int(np.isfinite(_outlier_values(infl, capped=True)["outlierTest.rstudent"]).sum())
        pred["outlierTest.bonferroni.p"] = p_t * n_tested
    return Reason(
        "car_t_reference",
        f"car's outlierTest refers the studentized residuals to Student's t with df_residual - 1 = {df:g} "
        "degrees of freedom when the fit's class is not plain \"glm\" (MASS::glm.nb's \"negbin\"), to the "
        "normal distribution for a glm; regdiag's GLM outlier test uses the normal distribution"
        + (" (and car does not cap the Bonferroni p-value at 1)" if "outlierTest.bonferroni.p" in pred else ""),
        predicted=pred,
        measures=frozenset(pred),
    )


def _deviance_dfbeta_reason(infl: Any, dfb_cols: list[str], r_conv: dict[str, np.ndarray]) -> Reason | None:
    """R's GLM dfbeta(s) pass the deviance residuals to lm.influence."""
    if not dfb_cols:
        return None
    text = (
        "R's dfbeta and dfbetas for a glm pass the deviance residuals, not the working residuals, to "
        "lm.influence (and divide by its deletion sigma from the deviance residuals); regdiag's default is the "
        "one-step change of the coefficients (Fisher scoring, Pearson residuals) over sqrt(phi_(i)) se: "
        "influence(residual='deviance') gives R's"
    )
    if float(getattr(infl, "link_sign", 1.0)) < 0:
        text += (
            f"; with the {infl.link} link, which decreases (g'(mu) < 0), R's values also have the opposite "
            "sign of the actual change b - b_(i) (regdiag's sign is that of the change: compare with "
            "influence(loo='exact'))"
        )
    return Reason("r_deviance_dfbeta", text, predicted={m: r_conv[m] for m in dfb_cols}, measures=frozenset(dfb_cols))


def _exact_vs_one_step_reason(infl: Any, pairs: dict[str, Any], r_conv: dict[str, np.ndarray]) -> Reason | None:
    """Exact leave-one-out Cook's distances against R's one-step ones."""
    cooks = [m for m in ("cook.d", "cooks.distance") if m in pairs]
    if getattr(infl, "method", "") != "glm-exact" or not cooks:
        return None
    return Reason(
        "exact_vs_one_step",
        "these measures come from exact leave-one-out refits (influence(loo='exact')); R's cooks.distance is "
        "the one-step approximation",
        predicted={m: r_conv[m] for m in cooks},
        measures=frozenset(cooks),
    )


def _convergence_reasons(
    infl: Any,
    fit: Any,
    pairs: dict[str, Any],
    dfb_cols: list[str],
    values_of: Callable[[Any, str], dict[str, np.ndarray]],
    epsilon: float,
    last: Reason | None,
) -> list[Reason]:
    """R's glm stopped early (at ``epsilon``, or R's default 1e-8): the measures at R's last iterate. ``last`` is
    the reason before these (the deviance dfbeta reason's text is added to the dfbeta one when it comes just
    before)."""
    out: list[Reason] = []
    for eps in dict.fromkeys((epsilon, 1e-8)):
        r_state = _r_default_glm(fit, eps)
        if r_state is None:
            continue
        its, state = r_state
        at_r = values_of(quietly(state.influence, observed=bool(getattr(infl, "observed", False))), "R")
        conv_text = (
            f"R's glm stops at glm.control(epsilon = {eps:g}) ({its} iterations here) and keeps the IRLS "
            "weights from before its last update: its numbers describe that iterate, not the converged fit "
            "(regdiag recomputed them there); " + _r_advice(fit)
        )
        plain = {m: at_r[m] for m in pairs if m not in dfb_cols and not m.startswith("outlierTest.bonf")}
        before, last = last, Reason("r_glm_convergence", conv_text, predicted=plain, measures=frozenset(pairs))
        out.append(last)
        if dfb_cols:
            both = {m: at_r[m] for m in dfb_cols}
            dev = before is not None and before.key == "r_deviance_dfbeta"
            last = Reason(
                "r_glm_convergence_deviance_dfbeta",
                conv_text + "; and " + before.text if dev and before is not None else conv_text,
                predicted=both,
                measures=frozenset(both),
            )
            out.append(last)
        if "outlierTest.bonferroni.p" in pairs:
            last = Reason(
                "r_glm_convergence_bonferroni",
                conv_text + "; and car does not cap the Bonferroni p-value at 1",
                predicted={"outlierTest.bonferroni.p": at_r["outlierTest.bonferroni.p"]},
                measures=frozenset({"outlierTest.bonferroni.p"}),
            )
            out.append(last)
    return out


def _different_model_reason(pairs: dict[str, Any]) -> Reason | None:
    """Hat values that differ: the reference is of another model."""
    hat_col = next((m for m in ("hat", "hatvalues") if m in pairs), None)
    if hat_col is None:
        return None
    ours_h, ref_h, _ = pairs[hat_col]
    ok = np.isfinite(ours_h) & np.isfinite(ref_h)
    if not ok.any() or np.max(np.abs(ours_h[ok] - ref_h[ok])) <= 1e-4 * max(np.max(np.abs(ref_h[ok])), 1e-300):
        return None
    return Reason(
        "different_model",
        "the hat values differ, so the file does not come from this model: check the formula (terms and "
        "their order), the weights, the family and link, and that the same rows were used",
        measures=frozenset({"*"}),
    )


def _observed_reason(infl: Any, fit: Any, pairs: dict[str, Any],
                     values_of: Callable[[Any, str], dict[str, np.ndarray]]) -> Reason | None:
    """Measures from the observed information, R's from the expected."""
    if not bool(getattr(infl, "observed", False)):
        return None
    exp = values_of(quietly(lambda: fit.influence()), "R")
    return Reason(
        "observed_information",
        "these measures were computed with the observed information (influence(observed=True)); R uses the "
        "expected (Fisher) information",
        predicted={m: exp[m] for m in pairs if m in exp},
        measures=frozenset(pairs),
    )
