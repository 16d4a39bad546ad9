"""regdiag beside statsmodels for robust regression (``RLM``) and the discrete models (``Logit``, ``Probit``,
``Poisson``, ``NegativeBinomial``, ``GeneralizedPoisson``, ``MNLogit``); :func:`regdiag.compare` hands these here.

Discrete models are compared with statsmodels' ``MLEInfluence`` (``get_influence()``) where statsmodels has one:
leverage, studentized residuals, the one-step ``d_params``, ``dfbetas`` and Cook's distance, each against regdiag's
one-step measures, and regdiag's exact leave-one-out coefficients against statsmodels' own refits (up to
``max_refits`` rows). Where they differ the reason is recomputed from regdiag's fit:

* Probit: statsmodels' generalized leverage ``dmu_i/dy_i`` is ``phi^2 / (Phi (1 - Phi)) x_i' H^{-1} x_i``, the
  expected-information weight with the observed information's inverse, so its leverages do not sum to ``p``; its
  ``d_params`` divide the Newton step by ``1 - h`` of that leverage.
* GeneralizedPoisson: the same derivative of the mean, blind to alpha (the leverages sum to less than ``P``).

``NegativeBinomial`` and ``MNLogit`` have no ``get_influence()`` in statsmodels; there the exact deletion is compared
with statsmodels' refits. Robust regression: statsmodels has no influence for ``RLM``; its weights and residuals
and its refits without each row are compared, and its standard errors (``cov="H1"``, the variance of ``psi'`` with
divisor ``n``; R's ``summary.rlm`` divides by ``n - 1``) in a note.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy import stats

from ._validation import DataError
from .comparison import (
    RTOL,
    Comparison,
    Reason,
    build_comparison,
    one_line_error,
    quietly,
    relative_tolerance,
    statsmodels_version,
)
from .from_statsmodels import fit_from_statsmodels
from .input_kind import statsmodels_model

__all__ = ["handles", "compare_model"]

_RLM = "RLM"

#: the farthest (in standard errors) a peer's estimate may lie from the fixed point regdiag refits and still be the
#: same estimate stopped early: statsmodels stops on a small relative change of the coefficients or the deviance
#: (1e-8), which leaves its estimate well within this. Up to it, the measures may differ by ten times the gap; a
#: larger gap is a different estimate (another model, or a fit that did not converge), and the measures are judged
#: without widening the tolerance, so that the gap shows as differences.
PEER_GAP_MAX_SE = 1e-4


def _gap_tolerance(gap: float, rtol: float, what: str, notes: list[str]) -> float:
    """The tolerance for a peer whose estimate is ``gap`` standard errors from regdiag's (see
    :data:`PEER_GAP_MAX_SE`), with a note saying how it was set."""
    if gap > PEER_GAP_MAX_SE:
        tol = max(rtol, 1e-7)
        notes.append(f"{what} is {gap:.2g} standard errors from the converged one regdiag refits, more than a fit "
                     f"stopped early leaves ({PEER_GAP_MAX_SE:g}): a different estimate (another model, or a fit that "
                     f"did not converge); agreement judged to {tol:.1g}")
        return tol
    tol = max(rtol, 1e-7, 10 * gap)
    if gap > 1e-9:
        notes.append(f"{what} is {gap:.1g} standard errors from the converged one regdiag refits; agreement judged "
                     f"to {tol:.1g}")
    return tol


def handles(results: Any) -> bool:
    """Whether :func:`compare_model` takes ``results``.

    Parameters
    ----------
    results : object
        Anything :func:`regdiag.compare` was given.

    Returns
    -------
    bool
        True for statsmodels RLM / discrete results and for regdiag's robust and discrete fits (or their influence).
    """
    from .linear.discrete import DISCRETE_MODELS, MLEFit
    from .linear.rlm import RLMFit

    kind = statsmodels_model(results)
    if kind is not None:
        return kind == _RLM or kind in DISCRETE_MODELS
    fit = getattr(results, "fit", results)
    return isinstance(fit, (RLMFit, MLEFit))


def compare_model(results: Any, *, rtol: float | None = None, n_rows: int = 3, max_refits: int = 5000) -> Comparison:
    """Compare a robust or discrete fit with statsmodels (see the module docstring).

    Parameters
    ----------
    results : statsmodels RLM / discrete results, RLMFit, MLEFit, or their influence object
        A regdiag fit is compared with the statsmodels model of the same data (fitted here).
    rtol : float, optional
        The agreement bound relative to each measure's largest absolute value (:data:`regdiag.comparison.RTOL` by
        default); raised to 1e-7, and to ten times the distance of statsmodels' estimate from regdiag's in standard
        errors, where either is larger.
    n_rows : int
        How many of the most different rows to name per measure.
    max_refits : int
        How many rows (the first ones) statsmodels refits without, to compare with regdiag's exact leave-one-out
        coefficients.

    Returns
    -------
    Comparison
        regdiag against statsmodels on the same model and data.

    Raises
    ------
    DataError
        If ``results`` is not a robust or discrete model.
    """
    from .linear.rlm import RLMFit

    if not handles(results):
        raise DataError(f"compare_model takes robust and discrete models; got a {type(results).__name__} (use "
                        "regdiag.compare)")
    rtol = RTOL if rtol is None else rtol
    if statsmodels_model(results) is not None:
        res = results
        fit = quietly(lambda: fit_from_statsmodels(res))
    else:
        fit = getattr(results, "fit", results)
        res = _statsmodels_of(fit)
    if isinstance(fit, RLMFit):
        return _compare_rlm(res, fit, rtol=rtol, n_rows=n_rows, max_refits=max_refits)
    return _compare_discrete(res, fit, rtol=rtol, n_rows=n_rows, max_refits=max_refits)


def _statsmodels_of(fit: Any) -> Any:
    import statsmodels.api as sm
    import statsmodels.robust.norms as norms

    from .linear.rlm import RLMFit

    if isinstance(fit, RLMFit):
        if fit.scale_kind != "mad" or fit.method != "M":
            raise ValueError("only M fits with the MAD scale have a statsmodels RLM equivalent to compare with")
        c = fit.psi.constants
        norm = {"huber": lambda: norms.HuberT(c[0]), "bisquare": lambda: norms.TukeyBiweight(c[0]),
                "hampel": lambda: norms.Hampel(*c)}[fit.psi.name]()
        model = sm.RLM(np.asarray(fit.design.y, dtype=float), np.asarray(fit.design.X, dtype=float), M=norm)
        return quietly(lambda: model.fit(tol=1e-14, maxiter=5000))
    cls = {"logit": sm.Logit, "probit": sm.Probit, "poisson": sm.Poisson, "negbin2": sm.NegativeBinomial,
           "genpoisson": sm.GeneralizedPoisson, "mnlogit": sm.MNLogit}[fit.kind]
    y = fit.y if fit.kind != "mnlogit" else np.argmax(fit.y, axis=1)
    kw = {"offset": fit.offset} if np.any(fit.offset != 0) else {}
    model = cls(y, fit.X, **kw)
    return quietly(lambda: model.fit(start_params=fit.params, method="newton", maxiter=200, tol=1e-13, disp=0))


def _refits(res: Any, fit: Any, rows: np.ndarray, start: np.ndarray) -> np.ndarray:
    """statsmodels' estimates without each of ``rows`` (NaN where its fit fails)."""
    model = res.model
    n = model.exog.shape[0]
    out = np.full((len(rows), len(start)), np.nan)
    for r, i in enumerate(rows):
        keep = np.arange(n) != i
        endog = np.asarray(model.endog)[keep]
        if type(model).__name__ == "MNLogit":
            endog = np.argmax(np.asarray(model.wendog)[keep], axis=1)
        kw: dict[str, Any] = {}
        if type(model).__name__ == _RLM:
            m = type(model)(endog, model.exog[keep], M=model.M)
            fit_kw: dict[str, Any] = {"tol": 1e-14, "maxiter": 5000}
            if fit.scale_kind == "fixed":  # the scale held where the fit held it
                fit_kw.update(update_scale=False, start_scale=float(fit.scale))
        else:
            off = getattr(model, "offset", None)
            if off is not None:
                kw["offset"] = np.asarray(off)[keep]
            exposure = getattr(model, "exposure", None)
            if exposure is not None:
                kw["exposure"] = np.exp(np.asarray(exposure)[keep])
            m = type(model)(endog, model.exog[keep], **kw)
            fit_kw = {"start_params": start, "method": "newton", "maxiter": 200, "tol": 1e-13, "disp": 0}
        try:
            r_i = quietly(m.fit, **fit_kw)
            out[r] = np.asarray(r_i.params, dtype=float).ravel(order="F")
        except (np.linalg.LinAlgError, ValueError, ArithmeticError):
            continue
    return out


def _loo_pairs(res: Any, fit: Any, params: np.ndarray, infl: Any, names: list[str], max_refits: int,
               notes: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray, str]]:
    """regdiag's exact ``b_(i)`` beside statsmodels' refits, for the first ``max_refits`` rows (a note if fewer)."""
    n = len(fit.index)
    k = min(n, max_refits)
    if k < n:
        notes.append(f"statsmodels refits for the first {k} of {n} rows only (max_refits = {max_refits})")
    loo = _refits(res, fit, np.arange(k), params)
    out = {}
    for j, nm in enumerate(names):
        ours = np.full(n, np.nan)
        ours[:k] = params[j] - infl.dfbeta[:k, j]
        theirs = np.full(n, np.nan)
        theirs[:k] = loo[:, j]
        out[f"loo_params_{nm}"] = (ours, theirs, f"refit without the row: params[{j}]")
    return out


def _compare_discrete(res: Any, fit: Any, *, rtol: float, n_rows: int, max_refits: int) -> Comparison:
    cls = type(res.model).__name__
    infl = quietly(fit.influence)
    names = list(fit.param_names)
    n = len(fit.index)
    notes: list[str] = []
    pairs: dict[str, tuple[np.ndarray, np.ndarray, str]] = {}
    reasons: list[Reason] = []
    sm_infl = None
    try:
        sm_infl = quietly(res.get_influence)
        _ = sm_infl.hat_matrix_diag
    except (AttributeError, NotImplementedError) as exc:
        sm_infl = None
        notes.append(f"statsmodels gives no influence for {cls} (get_influence(): {one_line_error(exc)}); its "
                     "refits without each row are the reference")
    if sm_infl is not None and sm_infl.hat_matrix_diag is not None:
        pairs["leverage"] = (infl.leverage, sm_infl.hat_matrix_diag, "hat_matrix_diag")
        pairs["standard_resid"] = (infl.standard_resid, quietly(lambda: sm_infl.resid_studentized),
                                   "resid_studentized")
        pairs["cooks_distance"] = (infl.cooks_distance_one_step, sm_infl.cooks_distance[0], "cooks_distance[0]")
        d_params = np.asarray(sm_infl.d_params)
        dfbetas = np.asarray(sm_infl.dfbetas)
        for j, nm in enumerate(names):
            pairs[f"dfbeta_{nm}"] = (infl.dfbeta_one_step[:, j], d_params[:, j], f"d_params[:, {j}]")
        se = np.sqrt(infl.cov_unscaled_diag)
        for j, nm in enumerate(names):
            pairs[f"dfbetas_{nm}"] = (infl.dfbeta_one_step[:, j] / se[j], dfbetas[:, j], f"dfbetas[:, {j}]")
        reasons += _mle_reasons(fit, infl)
    pairs.update(_loo_pairs(res, fit, fit.params, infl, names, max_refits, notes))
    b_sm = np.asarray(res.params, dtype=float).ravel(order="F")
    gap = float(np.max(np.abs(b_sm - fit.params) / np.sqrt(infl.cov_unscaled_diag)))
    tol = _gap_tolerance(gap, rtol, "statsmodels' estimate", notes)
    peer = f"statsmodels {statsmodels_version()} {cls}" + (" MLEInfluence" if sm_infl is not None else " refits")
    model = f"{cls} ({fit.kind}): n = {n}, {fit.n_params} parameters"
    return build_comparison(pairs, fit.index, reasons, tol=relative_tolerance(tol), n_rows=n_rows, peer=peer,
                            model=model, notes=notes)


def _mle_reasons(fit: Any, infl: Any) -> list[Reason]:
    """statsmodels' generalized leverage ``dmu_i/dy_i`` recomputed, where it is not the trace of the hat block."""
    if fit.kind not in ("probit", "genpoisson"):
        return []
    H = fit.information()
    Hinv = np.linalg.inv(H)
    X = fit.X
    O = fit.outputs()
    eta = O[:, 0]
    p = X.shape[1]
    if fit.kind == "probit":
        w = stats.norm.pdf(eta) ** 2 / (stats.norm.cdf(eta) * stats.norm.sf(eta))
        h_sm = w * np.einsum("ij,ij->i", X, X @ Hinv)
        key = "probit_leverage"
        text = ("statsmodels' Probit leverage (dmu/dy) is the expected-information weight phi^2/(Phi(1 - Phi)) times "
                f"x'H^{{-1}}x with the observed information H (it sums to {h_sm.sum():.4g}, not p = {p}); its "
                "d_params, dfbetas, Cook's distance and studentized residuals divide by 1 - that leverage")
    else:
        al = fit.params[-1]
        y = fit.y
        mu = np.exp(eta)
        a2 = mu + al * y
        ds_eta = mu / a2 - (y - 1.0) * mu * al / a2**2
        ds_al = (2 * y - 1.0) / a2 - (y - 1.0) * y * al / a2**2 - 1.0 / (1.0 + al) - 1.0 / (1.0 + al) ** 2
        dsdy = np.column_stack([ds_eta[:, None] * X, ds_al])
        dmu = np.column_stack([mu[:, None] * X, np.zeros(len(mu))])
        h_sm = np.einsum("ij,ij->i", dmu, dsdy @ Hinv)
        key = "genpoisson_leverage"
        text = ("statsmodels' GeneralizedPoisson leverage is the derivative of the fitted mean in the response, blind "
                f"to alpha (it sums to {h_sm.sum():.4g}, not P = {fit.n_params}); its d_params divide the plain Newton "
                "step by 1 - that leverage instead of solving with the information without the row")
    G = np.einsum("nkp,nk->np", fit.jacobian(), fit.grad_outputs())
    with np.errstate(all="ignore"):
        d_sm = -(G @ Hinv) / (1.0 - h_sm)[:, None]
        stud = infl.resid_pearson / np.sqrt(1.0 - h_sm)
    se = np.sqrt(np.diag(Hinv))
    pred: dict[str, np.ndarray] = {
        "leverage": h_sm,
        "cooks_distance": np.einsum("np,pq,nq->n", d_sm, H, d_sm) / fit.n_params,
        "standard_resid": stud,
    }
    for j, nm in enumerate(fit.param_names):
        pred[f"dfbeta_{nm}"] = d_sm[:, j]
        pred[f"dfbetas_{nm}"] = d_sm[:, j] / se[j]
    return [Reason(key=key, text=text, predicted=pred)]


def _compare_rlm(res: Any, fit: Any, *, rtol: float, n_rows: int, max_refits: int) -> Comparison:
    infl = quietly(fit.influence)
    n = fit.nobs
    names = list(fit.param_names)
    notes: list[str] = []
    pairs: dict[str, tuple[np.ndarray, np.ndarray, str]] = {
        "weights": (fit.weights, np.asarray(res.weights, dtype=float), "weights"),
        "resid": (infl.resid, np.asarray(res.resid, dtype=float), "resid"),
    }
    pairs.update(_loo_pairs(res, fit, fit.coef, infl, names, max_refits, notes))
    # coefficients, scale, standard errors in notes (statsmodels' H1 covariance: var(psi') with divisor n)
    u = fit.u
    dpsi = fit.psi.deriv(u)
    mn = float(np.mean(dpsi))
    kappa0 = 1.0 + fit.rank * float(np.var(dpsi)) / (n * mn * mn)
    kappa1 = 1.0 + fit.rank * float(np.var(dpsi, ddof=1)) / (n * mn * mn)
    bse_h1 = fit.bse.to_numpy() * kappa0 / kappa1
    gap_b = float(np.max(np.abs(np.asarray(res.params) - fit.coef) / fit.bse.to_numpy()))
    gap_se = float(np.max(np.abs(np.asarray(res.bse) - bse_h1) / bse_h1))
    gap_r = float(np.max(np.abs(np.asarray(res.bse) / fit.bse.to_numpy() - 1)))
    notes.append(f"coefficients: statsmodels' within {gap_b:.1g} standard errors of regdiag's fixed point; scale "
                 f"{float(res.scale):.10g} vs {fit.scale:.10g}")
    notes.append(f"standard errors: statsmodels' cov='H1' differs from R's summary.rlm (regdiag's) by up to "
                 f"{gap_r:.2g} (relative): it takes var(psi') with divisor n, R with n - 1; recomputed that way "
                 f"regdiag's agree with statsmodels' to {gap_se:.1g}")
    tol = _gap_tolerance(gap_b, rtol, "statsmodels' estimate", notes)
    peer = f"statsmodels {statsmodels_version()} RLM (weights, residuals, refits)"
    model = (f"RLM {fit.method} psi={fit.psi.name}{fit.psi.constants} scale={fit.scale_kind}: n = {n}, "
             f"p = {fit.rank}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_comparison(pairs, fit.index, [], tol=relative_tolerance(tol), n_rows=n_rows, peer=peer,
                                model=model, notes=notes)
