"""regdiag's influence measures side by side with what users have today: statsmodels, or R's ``influence.measures``.

:func:`compare` puts regdiag's value of each measure next to the peer's on the same fit and reports, per measure,
the largest absolute and relative difference, the rows that differ most, and — where they differ — the known
reason. A reason is never printed because it usually applies: each is *detected* from the situation (weights that
are not all equal, a rank-deficient design, rows with leverage 1, a non-canonical link, ...) and then *checked*:
regdiag recomputes the peer's value under the peer's convention (for example statsmodels' WLS hat
``h_i / sqrt(w_i)``) and the reason counts as explaining the difference only if that reproduces the peer's
numbers (column ``explained``).
"""

from __future__ import annotations

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

__all__ = ["compare", "Comparison"]

EPS = float(np.finfo(float).eps)
#: default relative tolerance (of a measure's scale) within which two double-precision results agree
RTOL = 1e-8
#: statsmodels computes some OLS measures by refitting n times; above this many rows those measures are skipped
MAX_REFITS = 5000


@dataclass(frozen=True)
class Reason:
    """A known cause of a systematic difference, detected from the situation.

    Attributes
    ----------
    key : str
        Short name ("wls_hat", "rank_deficient", "leverage_one", "observed_information", "pearson_deviance",
        "refit_vs_closed_form", "zero_weight", ...).
    text : str
        The explanation, naming the rows or quantities it concerns.
    predicted : dict
        Measure -> the peer's values recomputed by regdiag under the peer's convention (checked against the peer).
    measures : frozenset
        Measures the situation affects (also those it cannot recompute).
    rows : pandas.Index
        Rows it concerns (for reasons that concern rows, such as leverage 1).
    checked : frozenset
        Measures whose peer values cannot be recomputed (rounding noise, such as a ratio of determinants of singular
        matrices) but for which the situation itself was checked numerically (e.g. the determinant is zero to
        rounding): the reason counts as explaining them.
    """

    key: str
    text: str
    predicted: dict[str, np.ndarray] = field(default_factory=dict)
    measures: frozenset[str] = frozenset()
    rows: pd.Index = field(default_factory=lambda: pd.Index([]))
    checked: frozenset[str] = frozenset()

    def affects(self, measure: str) -> bool:
        return (measure in self.predicted or measure in self.measures or measure in self.checked
                or "*" in self.measures)


@dataclass(frozen=True, eq=False)
class Comparison:
    """regdiag against a peer on the same fit.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per measure (index: regdiag's name): ``peer_column``, ``n`` (rows compared), ``max_abs_diff``,
        ``max_rel_diff`` (largest absolute difference over the largest absolute peer value), ``differ_most`` (row
        labels, largest difference first), ``defined_on_one_side`` (rows where one side is NaN or infinite and the
        other is not), ``agree``, ``reason`` and ``explained`` (whether regdiag, recomputing the peer's convention,
        reproduces the peer's numbers; NA when they agree).
    values : dict of str to pandas.DataFrame
        Per measure, the two columns side by side (``regdiag``, ``peer``) indexed by row label.
    reasons : tuple of Reason
        Every situation detected, whether or not it made a difference.
    peer : str
        What was compared with (e.g. "statsmodels 0.14.1 OLSInfluence").
    model : str
        The model, in words.
    notes : tuple of str
        How rows and columns were matched, tolerances, measures skipped.
    """

    table: pd.DataFrame
    values: dict[str, pd.DataFrame]
    reasons: tuple[Reason, ...]
    peer: str
    model: str
    notes: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """The per-measure table."""
        return self.table.copy()

    def side_by_side(self) -> pd.DataFrame:
        """Every measure's two columns, ``(measure, "regdiag")`` and ``(measure, "peer")``, indexed by row label."""
        return pd.concat(self.values, axis=1)

    def detail(self, measure: str) -> pd.DataFrame:
        """One measure row by row: ``regdiag``, ``peer``, ``abs_diff``, sorted by decreasing difference."""
        if measure not in self.values:
            raise KeyError(f"no measure {measure!r}; compared: {', '.join(self.values)}")
        v = self.values[measure].copy()
        v["abs_diff"] = (v["regdiag"] - v["peer"]).abs()
        return v.sort_values("abs_diff", ascending=False, na_position="first")

    @property
    def all_explained(self) -> bool:
        """True when every measure agrees or differs for a reason that reproduces the peer's numbers."""
        t = self.table
        return bool((t["agree"] | t["explained"].fillna(False).astype(bool)).all())

    def summary(self) -> str:
        """A text rendering: header, the table, the reasons."""
        lines = [f"regdiag vs {self.peer}", f"model: {self.model}"]
        lines += [f"note: {n}" for n in self.notes]
        show = self.table.drop(columns=["reason"]).copy()
        for c in ("max_abs_diff", "max_rel_diff"):
            show[c] = show[c].map(lambda v: f"{v:.3g}")
        lines.append(show.to_string())
        reasons = self.table.loc[self.table["reason"] != "", "reason"]
        if len(reasons):
            lines.append("")
            lines.append("reasons:")
            for text, measures in reasons.groupby(reasons, sort=False):
                lines.append(f"- {', '.join(measures.index)}: {text}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def to_html(self) -> str:
        """The table as HTML (used by the HTML report)."""
        show = self.table.copy()
        for c in ("max_abs_diff", "max_rel_diff"):
            show[c] = show[c].map(lambda v: f"{v:.3g}")
        show["explained"] = show["explained"].map(lambda v: "" if v is pd.NA or v is None else ("yes" if v else "no"))
        return show.to_html(classes="compare", border=0, escape=True, na_rep="")

    def _repr_html_(self) -> str:
        return f"<p>regdiag vs {self.peer}; model: {self.model}</p>" + self.to_html()


# ---------------------------------------------------------------------------------------------------------------
# entry point


def compare(
    results: Any,
    reference: Any = None,
    *,
    rtol: float = RTOL,
    n_rows: int = 3,
    max_refits: int = MAX_REFITS,
) -> Comparison:
    """Compare regdiag's influence measures with statsmodels' or with a CSV written from R's ``influence.measures``.

    Parameters
    ----------
    results : statsmodels results, regdiag fit or Influence
        A fitted statsmodels OLS / WLS / GLM results object: regdiag refits the same design, weights and offset and
        both libraries' measures are compared. A regdiag fit without ``reference``: the equivalent statsmodels
        model is fitted and compared. With ``reference``, a regdiag fit or Influence (or statsmodels results, which
        regdiag refits) is compared with the file.
    reference : str, Path or pandas.DataFrame, optional
        R's ``influence.measures(fit)$infmat`` as written by ``write.csv`` (first column the row names; columns
        ``dfb.*``, ``dffit``, ``cov.r``, ``cook.d``, ``hat``), or that table as a DataFrame.
    rtol : float
        Two values agree when they differ by at most ``rtol`` times the measure's largest absolute value (widened
        for the precision of a CSV and for the conditioning of the design).
    n_rows : int
        How many of the most different rows to name per measure.
    max_refits : int
        statsmodels computes its OLS ``dfbeta``, ``dfbetas``, ``cov_ratio`` and leave-one-out sigma by refitting
        once per row; above this many rows those measures are skipped (noted).

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
        return _compare_r(results, reference, rtol=rtol, n_rows=n_rows)
    from .compare_models import compare_model, handles  # robust regression and the discrete models

    if handles(results):
        return compare_model(results, rtol=rtol, n_rows=n_rows, max_refits=max_refits)
    if _is_statsmodels(results):
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
    if hasattr(fit, "family"):
        return _compare_sm_glm(sm_results, fit, rtol=rtol, n_rows=n_rows, max_refits=max_refits)
    return _compare_sm_linear(sm_results, fit, rtol=rtol, n_rows=n_rows, max_refits=max_refits)


def _is_statsmodels(obj: Any) -> bool:
    mod = type(obj).__module__
    return mod.startswith("statsmodels") or type(getattr(obj, "model", None)).__module__.startswith("statsmodels")


def _regdiag_fit_of(results: Any) -> Any:
    from .design import design_from_statsmodels

    kind = type(results.model).__name__
    if kind in ("OLS", "WLS"):
        from .linear.ols import fit_design

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fit_design(design_from_statsmodels(results))
    if kind == "GLM":
        from .linear.glm import glm_from_statsmodels

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return glm_from_statsmodels(results)
    raise DataError(f"statsmodels {kind} results cannot be compared; pass OLS, WLS or GLM results")


def _statsmodels_of(fit: Any) -> Any:
    """The statsmodels fit of the same design, weights and offset as a regdiag fit."""
    import statsmodels.api as sm

    d = fit.design
    X = pd.DataFrame(np.asarray(d.X), index=d.index, columns=list(d.param_names))
    if hasattr(fit, "family"):
        return _quiet(lambda: _statsmodels_glm_of(fit, X))  # statsmodels warns about links it calls unsafe
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
    # started at regdiag's estimate: the same fit (statsmodels' own start fails for some links)
    return model.fit(
        start_params=np.nan_to_num(np.asarray(fit.coef, dtype=float)),
        scale="X2" if not fam.fixed_dispersion else 1.0, tol=1e-12, maxiter=200,
    )


def _negbin_alpha(fam: Any) -> float:
    for name in ("alpha", "theta"):
        v = getattr(fam, name, None)
        if v is not None:
            return float(v) if name == "alpha" else 1.0 / float(v)
    raise DataError("the negative binomial family has no alpha/theta to give statsmodels")


# ---------------------------------------------------------------------------------------------------------------
# the comparison itself


def _build(
    pairs: dict[str, tuple[np.ndarray, np.ndarray, str]],
    index: pd.Index,
    reasons: list[Reason],
    *,
    tol: Callable[[str, np.ndarray], np.ndarray] | float,
    n_rows: int,
    peer: str,
    model: str,
    notes: list[str],
) -> Comparison:
    """The per-measure table; ``tol`` is a relative tolerance or ``tol(measure, peer_values)`` -> per-row allowance."""
    rows = []
    values: dict[str, pd.DataFrame] = {}
    for measure, (ours, theirs, peer_col) in pairs.items():
        ours = np.asarray(ours, dtype=float)
        theirs = np.asarray(theirs, dtype=float)
        values[measure] = pd.DataFrame({"regdiag": ours, "peer": theirs}, index=index)
        both = np.isfinite(ours) & np.isfinite(theirs)
        one = np.isfinite(ours) != np.isfinite(theirs)
        diff = np.abs(ours - theirs)
        scale = float(np.max(np.abs(theirs[both]))) if both.any() else 0.0
        max_abs = float(np.max(diff[both])) if both.any() else 0.0
        max_rel = max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else math.inf)
        allow = _allowance(tol, measure, theirs, scale)
        within = bool(np.all(diff[both] <= allow[both]))
        order = np.argsort(-np.where(both, diff, -np.inf), kind="stable")
        worst = [index[i] for i in order[:n_rows] if both[i] and diff[i] > 0]
        agree = within and not one.any()
        reason, explained = _explain(measure, reasons, theirs, within, one, index, tol, scale)
        rows.append(
            {
                "measure": measure,
                "peer_column": peer_col,
                "n": int(both.sum()),
                "max_abs_diff": max_abs,
                "max_rel_diff": max_rel,
                "differ_most": format_labels(worst, n_rows) if worst else "",
                "defined_on_one_side": format_labels(list(index[one]), 5) if one.any() else "",
                "agree": agree,
                "reason": reason,
                "explained": pd.NA if agree else explained,
            }
        )
    table = pd.DataFrame(rows).set_index("measure")
    table["explained"] = table["explained"].astype("boolean")
    return Comparison(table=table, values=values, reasons=tuple(reasons), peer=peer, model=model, notes=tuple(notes))


def _allowance(tol: Any, measure: str, theirs: np.ndarray, scale: float) -> np.ndarray:
    if callable(tol):
        return np.asarray(tol(measure, theirs), dtype=float) + RTOL * scale
    return np.full(theirs.shape, float(tol) * scale + 1e3 * np.finfo(float).tiny)


def _explain(
    measure: str,
    reasons: list[Reason],
    theirs: np.ndarray,
    within: bool,
    one: np.ndarray,
    index: pd.Index,
    tol: Any,
    scale: float,
) -> tuple[str, Any]:
    """The first detected reason that reproduces the peer's values; else the detected ones that apply, unverified."""
    if within and not one.any():
        return "", pd.NA
    texts: list[str] = []
    verified = True
    if one.any():
        row_reasons = [r for r in reasons if len(r.rows) and r.affects(measure)]
        covered = pd.Index([])
        for r in row_reasons:
            covered = covered.union(r.rows)
            texts.append(r.text)
        if not set(index[one]) <= set(covered):
            verified = False
            texts.append(f"defined on one side only at rows {format_labels(list(index[one]), 5)}, for no known reason")
    if not within:
        hit = None
        for r in reasons:
            if measure in r.predicted:
                pred = np.asarray(r.predicted[measure], dtype=float)
                ok = np.isfinite(pred) & np.isfinite(theirs)
                allow = _allowance(tol, measure, theirs, scale)
                if ok.any() and np.all(np.abs(pred[ok] - theirs[ok]) <= allow[ok]):
                    hit = r
                    break
        if hit is None:
            hit = next((r for r in reasons if measure in r.checked), None)
        if hit is not None:
            texts.insert(0, hit.text)
        else:
            verified = False
            unverified = [r.text for r in reasons if r.affects(measure) and not len(r.rows)]
            if unverified:
                texts.insert(0, unverified[0] + " (recomputing the peer's convention does not reproduce all of it)")
            else:
                texts.insert(0, "unexplained: no known cause detected")
    return "; ".join(dict.fromkeys(texts)), verified


# ---------------------------------------------------------------------------------------------------------------
# statsmodels, linear models


def one_line_error(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _sm_version() -> str:
    import statsmodels

    return statsmodels.__version__


def _quiet(fn: Callable[[], Any]) -> Any:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return fn()


def _describe(fit: Any) -> str:
    d = fit.design
    text = d.formula or f"{d.response_name} ~ {' + '.join(d.param_names)}"
    kind = getattr(fit, "method", "ols").upper()
    fam = getattr(fit, "family", None)
    if fam is not None:
        kind = f"GLM {fam.name}({getattr(fam.link, 'name', fam.link)})"
    return f"{kind}: {text}; n = {fit.nobs}, rank = {fit.rank} of {len(d.param_names)} columns"


def _compare_sm_linear(res: Any, fit: Any, *, rtol: float, n_rows: int, max_refits: int) -> Comparison:
    from statsmodels.stats.outliers_influence import OLSInfluence

    infl = _quiet(fit.influence)
    sm_infl = OLSInfluence(res)
    names = list(fit.param_names)
    n, k = len(fit.index), len(names)
    refits = n <= max_refits
    notes = []
    pairs: dict[str, tuple[np.ndarray, np.ndarray, str]] = {
        "leverage": (infl.leverage, _quiet(lambda: sm_infl.hat_matrix_diag), "hat_matrix_diag"),
        "standard_resid": (infl.standard_resid, _quiet(lambda: sm_infl.resid_studentized_internal),
                           "resid_studentized_internal"),
        "press_resid": (infl.press_resid, _quiet(lambda: sm_infl.resid_press), "resid_press"),
        "cooks_distance": (infl.cooks_distance, _quiet(lambda: sm_infl.cooks_distance[0]), "cooks_distance[0]"),
        "cooks_pvalue": (infl.cooks_pvalue, _quiet(lambda: sm_infl.cooks_distance[1]), "cooks_distance[1]"),
        "dffits_internal": (infl.dffits_internal, _quiet(lambda: sm_infl.dffits_internal[0]), "dffits_internal[0]"),
    }
    if refits:
        pairs["sigma_loo"] = (infl.sigma_loo, _quiet(lambda: np.sqrt(sm_infl.sigma2_not_obsi)), "sqrt(sigma2_not_obsi)")
        pairs["student_resid"] = (infl.student_resid, _quiet(lambda: sm_infl.resid_studentized_external),
                                  "resid_studentized_external")
        pairs["dffits"] = (infl.dffits, _quiet(lambda: sm_infl.dffits[0]), "dffits[0]")
        pairs["cov_ratio"] = (infl.cov_ratio, _quiet(lambda: sm_infl.cov_ratio), "cov_ratio")
        dfb = _quiet(lambda: sm_infl.dfbeta)
        dfbs = _quiet(lambda: sm_infl.dfbetas)
        for j, nm in enumerate(names):
            pairs[f"dfbeta_{nm}"] = (infl.dfbeta[:, j], dfb[:, j], f"dfbeta[:, {j}]")
        for j, nm in enumerate(names):
            pairs[f"dfbetas_{nm}"] = (infl.dfbetas[:, j], dfbs[:, j], f"dfbetas[:, {j}]")
    else:
        notes.append(
            f"statsmodels computes sigma_loo, student_resid, dffits, cov_ratio and dfbeta(s) by refitting once per "
            f"row; with n = {n} > max_refits = {max_refits} they are not compared"
        )
    reasons = _linear_reasons(fit, infl, res, k)
    if refits:
        robust = _robust_cov_reason(fit, infl, res, reasons)
        if robust is not None:
            reasons.append(robust)
    cond = _raw_cond(fit)
    refit_measures = {"sigma_loo", "student_resid", "dffits", "cov_ratio"} | {
        m for m in pairs if m.startswith("dfbeta")
    }
    if cond * EPS * 1e3 > rtol:
        reasons.append(
            Reason(
                "refit_vs_closed_form",
                f"statsmodels refits n times with a pseudo-inverse, regdiag uses the closed form from one QR; on this "
                f"design (condition number {cond:.3g}) either can carry relative errors up to about cond x eps = "
                f"{cond * EPS:.2g}",
                measures=frozenset(refit_measures),
            )
        )

    def tol_fn(measure: str, theirs: np.ndarray) -> np.ndarray:
        scale = np.nanmax(np.abs(theirs[np.isfinite(theirs)])) if np.isfinite(theirs).any() else 0.0
        base = rtol
        if measure in refit_measures:
            base = max(rtol, 1e2 * EPS * cond)
        return np.full(theirs.shape, base * scale)

    peer = f"statsmodels {_sm_version()} OLSInfluence"
    return _build(pairs, fit.index, reasons, tol=tol_fn, n_rows=n_rows, peer=peer, model=_describe(fit), notes=notes)


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
    cud_full = _quiet(lambda: np.asarray(res.normalized_cov_params, dtype=float))
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
    s = np.linalg.svd(X, compute_uv=False)
    s = s[s > s[0] * 1e-14] if s.size and s[0] > 0 else s
    return float(s[0] / s[-1]) if s.size else math.inf


def _linear_reasons(fit: Any, infl: Any, res: Any, k: int) -> list[Reason]:
    """Situations in which statsmodels' OLSInfluence computes something else than R and regdiag, with its values."""
    from .linear import measures

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
    from .linear import measures
    from .linear.ols import fit_design
    from .design import Design

    w = np.asarray(fit.design.weights, dtype=float)
    pos = w > 0
    h = np.asarray(infl.leverage)
    with np.errstate(divide="ignore", invalid="ignore"):
        h_sm = np.where(pos, h / np.sqrt(w), 0.0)
    e = np.asarray(res.resid, dtype=float)  # unweighted residuals of the WLS fit
    s = math.sqrt(float(res.scale))
    d = fit.design
    unweighted = _quiet(lambda: fit_design(Design(
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
    aliased = [nm for nm in fit.param_names if nm in fit.aliased]
    if aliased:
        out.append(
            Reason(
                "aliased",
                f"{', '.join(aliased)} aliased (a linear combination of earlier columns): regdiag, like R, reports "
                "no change (NaN) for a coefficient that is not estimable; statsmodels a minimum-norm value",
                measures=frozenset({f"dfbeta_{nm}" for nm in aliased} | {f"dfbetas_{nm}" for nm in aliased}),
                rows=fit.index,
            )
        )
    return out


# ---------------------------------------------------------------------------------------------------------------
# statsmodels, GLMs


def _compare_sm_glm(res: Any, fit: Any, *, rtol: float, n_rows: int, max_refits: int) -> Comparison:
    observed = True  # statsmodels' default for GLMResults.get_influence()
    notes = []
    try:
        sm_infl = _quiet(lambda: res.get_influence(observed=observed))
        if not np.all(np.isfinite(sm_infl.hat_matrix_diag)):
            raise np.linalg.LinAlgError("non-finite hat values")
    except (np.linalg.LinAlgError, ValueError) as exc:
        observed = False
        notes.append(
            f"statsmodels' get_influence() fails on this fit ({one_line_error(exc)}: the observed information "
            "weights are negative for some rows); compared with get_influence(observed=False)"
        )
        sm_infl = _quiet(lambda: res.get_influence(observed=False))
    infl = _quiet(fit.influence)
    names = list(fit.param_names)
    pairs: dict[str, tuple[np.ndarray, np.ndarray, str]] = {
        "leverage": (infl.leverage, _quiet(lambda: sm_infl.hat_matrix_diag), "hat_matrix_diag"),
        "standard_resid": (infl.standard_resid, _quiet(lambda: sm_infl.resid_studentized), "resid_studentized"),
        "cooks_distance": (infl.cooks_distance, _quiet(lambda: sm_infl.cooks_distance[0]), "cooks_distance[0]"),
    }
    d_params = _quiet(lambda: sm_infl.d_params)
    dfbetas = _quiet(lambda: sm_infl.dfbetas)
    for j, nm in enumerate(names):
        pairs[f"dfbeta_{nm}"] = (infl.dfbeta[:, j], d_params[:, j], f"d_params[:, {j}]")
    for j, nm in enumerate(names):
        pairs[f"dfbetas_{nm}"] = (infl.dfbetas[:, j], dfbetas[:, j], f"dfbetas[:, {j}]")
    n = len(fit.index)
    if n <= max_refits and hasattr(type(sm_infl), "_res_looo"):
        # statsmodels' leave-one-out refits (it computes no measure from them; its one-step d_params is compared)
        loo = _quiet(lambda: np.asarray(sm_infl._res_looo["params"]))
        for j, nm in enumerate(names):
            pairs[f"loo_params_{nm}"] = (infl.loo_params[:, j], loo[:, j], f"_res_looo['params'][:, {j}]")
    else:
        notes.append(f"statsmodels' leave-one-out refits not compared: n = {n} > max_refits = {max_refits}")
    reasons = _glm_reasons(fit, infl, res, sm_infl, names, observed)
    peer = f"statsmodels {_sm_version()} GLMInfluence (get_influence(), observed={observed})"

    # statsmodels' IRLS stops at its own tolerance: measures are smooth in the coefficients, so allow a multiple of
    # how far its coefficients are from regdiag's converged ones
    b_sm = np.asarray(res.params, dtype=float)
    b_rd = np.nan_to_num(np.asarray(fit.coef, dtype=float))
    phi = float(fit.dispersion)
    freq = _freq_weights(res)
    if freq is not None and not fit.family.fixed_dispersion:  # statsmodels' residual df count the replicates
        phi *= (len(freq) - fit.rank) / (float(np.sum(freq)) - fit.rank)
    with np.errstate(divide="ignore", invalid="ignore"):
        se_rd = np.sqrt(phi * np.asarray(infl.cov_unscaled_diag))
        se_gap = np.abs(np.asarray(res.bse, dtype=float) - se_rd) / se_rd
    param_gap = float(np.max(np.abs(b_sm - b_rd)) / max(np.max(np.abs(b_rd)), 1e-300))
    param_gap = max(param_gap, float(np.nanmax(se_gap)) if np.isfinite(se_gap).any() else 0.0)
    glm_rtol = max(rtol, 1e-7, 10 * param_gap)
    if param_gap > 1e-9:
        notes.append(
            f"statsmodels' fit stopped at its own convergence tolerance (its covariance from the weights before its "
            f"last step): its coefficients and standard errors differ from regdiag's by up to {param_gap:.1g} "
            f"(relative), so agreement is judged to {glm_rtol:.1g}"
        )

    def tol_fn(measure: str, theirs: np.ndarray) -> np.ndarray:
        scale = np.nanmax(np.abs(theirs[np.isfinite(theirs)])) if np.isfinite(theirs).any() else 0.0
        return np.full(theirs.shape, glm_rtol * scale)

    return _build(pairs, fit.index, reasons, tol=tol_fn, n_rows=n_rows, peer=peer, model=_describe(fit), notes=notes)


def _statsmodels_glm_formulas(
    fit: Any, infl: Any, observed: bool, freq_weights: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """statsmodels' ``GLMInfluence`` measures recomputed from regdiag's fit: hat of ``W^(1/2) X`` with the IRLS
    weights ``W`` (times the observed/expected ratio when ``observed``), internally studentized Pearson residuals,
    Cook's distance over the number of columns, one-step changes ``(A'A)^+ a_i r_P,i / (1 - h_i)`` and those over
    the full fit's standard errors. Dense p x p algebra: for comparison only.

    With ``freq_weights`` (statsmodels' replicated rows, which regdiag fitted as prior weights): the Pearson residual
    of one replicate, ``r_P,i / sqrt(f_i)``, and the dispersion on ``sum(f) - p`` residual degrees of freedom."""
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
    with np.errstate(divide="ignore", invalid="ignore"):
        r = rp / np.sqrt(phi * (1.0 - h))
        d_params = AG * (rp / (1.0 - h))[:, None]  # the one-step change has no phi
        bse = np.sqrt(phi * np.asarray(infl.cov_unscaled_diag))
        out = {"leverage": h, "standard_resid": r, "cooks_distance": r**2 * h / ((1.0 - h) * k)}
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
    predicted = {"standard_resid": pred["standard_resid"], "cooks_distance": pred["cooks_distance"]}
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


def _glm_reasons(fit: Any, infl: Any, res: Any, sm_infl: Any, names: list[str], observed: bool) -> list[Reason]:
    """Situations in which statsmodels' GLMInfluence computes something else than regdiag, each with the values
    regdiag computes under statsmodels' convention, one difference at a time (the first reason that reproduces a
    measure is the one reported)."""
    reasons: list[Reason] = []
    fam = fit.family
    canonical = bool(getattr(fam, "canonical", False))
    freq = _freq_weights(res)
    if freq is not None:
        reasons.append(_freq_weights_reason(fit, infl, freq, names, observed and not canonical))
    expected = _statsmodels_glm_formulas(fit, infl, observed=False)
    pear: dict[str, np.ndarray] = {"standard_resid": expected["standard_resid"]}
    if getattr(infl, "residual", "pearson") != "pearson":
        pear.update({f"dfbeta_{nm}": expected[f"dfbeta_{nm}"] for nm in names})
    reasons.append(
        Reason(
            "pearson_deviance",
            "statsmodels studentizes the Pearson residuals r_P / sqrt(phi (1 - h)) and takes its one-step changes "
            "with them; regdiag's standard_resid is R's rstandard of the deviance residuals"
            + (", and this fit's dfbeta uses deviance residuals (residual='deviance', R's dfbeta.glm)"
               if len(pear) > 1 else ""),
            predicted=pear,
            measures=frozenset(pear),
        )
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        bse = np.sqrt(float(fit.dispersion) * np.asarray(infl.cov_unscaled_diag))
        scaled = {f"dfbetas_{nm}": np.asarray(infl.dfbeta)[:, j] / bse[j] for j, nm in enumerate(names)}
    reasons.append(
        Reason(
            "dfbetas_scale",
            "statsmodels' GLM dfbetas divide the change by the full fit's standard error sqrt(phi [(X'WX)^-1]_jj); "
            "regdiag's by sqrt(phi_(i) [(X'WX)^-1]_jj) with the dispersion phi_(i) re-estimated without the row "
            "(the same where the dispersion is fixed, as for binomial and Poisson), or, with residual='deviance', "
            "like R's by the deviance-residual deletion sigma_(i)",
            predicted=scaled,
            measures=frozenset(scaled),
        )
    )
    mu = np.asarray(fit.mu, dtype=float)
    used = np.asarray(fit.prior_weights) > 0
    if used.any() and np.all(np.asarray(fam.link.deriv(mu[used])) < 0):
        sign = {m: expected[m] for m in expected if m.startswith("dfbeta")}
        reasons.append(
            Reason(
                "decreasing_link",
                f"the {getattr(fam.link, 'name', fam.link)} link decreases (g'(mu) < 0): statsmodels' one-step "
                "change sqrt(W_i) r_P,i (X'WX)^-1 x_i / (1 - h_i) drops the sign of g'(mu), so its d_params and "
                "dfbetas point the wrong way (its own leave-one-out refits move the coefficients the other way); "
                "regdiag's agree with the refits",
                predicted=sign,
                measures=frozenset(sign),
            )
        )
    if fit.rank < len(names):
        reasons.append(
            Reason(
                "rank_deficient",
                f"the design has rank {fit.rank} < {len(names)} columns: statsmodels divides Cook's distance by the "
                "number of columns and reports minimum-norm changes; regdiag (like R) uses the rank and NaN for "
                "aliased coefficients",
                predicted={"cooks_distance": expected["cooks_distance"]},
                measures=frozenset({"cooks_distance"} | {m for m in expected if m.startswith("dfbeta")}),
            )
        )
    if observed and not canonical:
        obs = _statsmodels_glm_formulas(fit, infl, observed=True)
        reasons.append(
            Reason(
                "observed_information",
                f"the {getattr(fam.link, 'name', fam.link)} link is not canonical for the {fam.name} family, so the "
                "observed and expected information differ: statsmodels' get_influence() weights the hat matrix and "
                "the one-step changes with the observed information (and studentizes Pearson residuals), regdiag, "
                "like R, with the expected (Fisher) information; influence(observed=True) gives statsmodels' hat "
                "values",
                predicted=obs,
                measures=frozenset(obs),
            )
        )
    # refit-based vs closed form: statsmodels' leave-one-out loop refits; regdiag's loo_params are one-step unless exact
    if getattr(infl, "method", "") != "glm-exact":
        exact = _quiet(lambda: fit.influence(loo="exact"))
        pred_loo = {f"loo_params_{nm}": np.asarray(exact.loo_params)[:, j] for j, nm in enumerate(names)}
        reasons.append(
            Reason(
                "refit_vs_closed_form",
                "statsmodels' leave-one-out loop refits the model without each row; regdiag's loo_params are the "
                "closed-form one-step estimates unless influence(loo='exact'), which reproduces the refits",
                predicted=pred_loo,
                measures=frozenset(pred_loo),
            )
        )
    h = np.asarray(infl.leverage)
    one = np.flatnonzero(~(h < 1))
    if one.size:
        reasons.append(
            Reason(
                "leverage_one",
                f"leverage 1 at rows {format_labels(list(fit.index[one]), 5)}: regdiag reports NaN for the deletion "
                "measures, statsmodels divides by 1 - h (about 0)",
                measures=frozenset({"*"}),
                rows=fit.index[one],
            )
        )
    return reasons


# ---------------------------------------------------------------------------------------------------------------
# R's influence.measures in a CSV


_R_COLUMNS = ("dffit", "cov.r", "cook.d", "hat")


def _read_reference(reference: Any) -> tuple[pd.DataFrame, int | None, str]:
    """The table, the significant digits its numbers were written with (None for a DataFrame), and its name."""
    if isinstance(reference, pd.DataFrame):
        df = reference.copy()
        df.index = df.index.map(str)
        return df, None, "DataFrame"
    path = Path(reference)
    if not path.is_file():
        raise DataError(f"no such file: {path}. Write it in R with write.csv(influence.measures(fit)$infmat, \"{path.name}\")")
    try:
        text = path.read_text(encoding="utf-8")
        df = pd.read_csv(path, index_col=0, keep_default_na=True, dtype={0: str})
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise DataError(f"cannot read {path} as a CSV table: {exc}") from exc
    df.index = df.index.map(str)
    numbers = re.findall(r"(?<![\w.])-?(\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?", text.split("\n", 1)[-1])
    digits = max((len(n.replace(".", "").lstrip("0")) for n in numbers), default=15) if numbers else None
    return df, digits, path.name


def _compare_r(results: Any, reference: Any, *, rtol: float, n_rows: int) -> Comparison:
    ref, digits, name = _read_reference(reference)
    dfb_cols = [c for c in ref.columns if str(c).startswith("dfb.")]
    known = [c for c in ref.columns if c in _R_COLUMNS]
    if not dfb_cols and not known:
        raise DataError(
            f"{name} has none of influence.measures' columns (dfb.*, dffit, cov.r, cook.d, hat); write it in R with "
            "write.csv(influence.measures(fit)$infmat, file)"
        )
    bad = [c for c in dfb_cols + known if not pd.api.types.is_numeric_dtype(ref[c])]
    if bad:
        raise DataError(f"{name}: column {bad[0]!r} is not numeric")
    if _is_statsmodels(results):
        results = _regdiag_fit_of(results)
    infl = results if hasattr(results, "leverage") else _quiet(results.influence)
    fit = getattr(infl, "fit", None)
    ours = infl.to_frame(style="R")
    ours.index = ours.index.map(str)
    notes: list[str] = []
    reasons: list[Reason] = []
    ours, ref = _match_rows(ours, ref, infl, notes, reasons, name)
    pairs: dict[str, tuple[np.ndarray, np.ndarray, str]] = {}
    our_dfb = [c for c in ours.columns if c.startswith("dfb.")]
    if sorted(our_dfb) != sorted(dfb_cols) and len(our_dfb) == len(dfb_cols):
        notes.append(f"coefficient columns matched by position: {dict(zip(dfb_cols, our_dfb))}")
        mapping = dict(zip(our_dfb, dfb_cols))
    else:
        mapping = {c: c for c in our_dfb if c in dfb_cols}
        missing = [c for c in dfb_cols if c not in mapping.values()]
        if missing:
            notes.append(f"columns of {name} with no regdiag counterpart: {', '.join(missing)}")
    for ours_col, ref_col in mapping.items():
        pairs[ours_col] = (ours[ours_col].to_numpy(), ref[ref_col].to_numpy(dtype=float), ref_col)
    for col in known:
        pairs[col] = (ours[col].to_numpy(), ref[col].to_numpy(dtype=float), col)
    reasons += _r_reasons(infl, fit, ours, ref, pairs)
    if digits is not None and digits < 15:
        notes.append(f"{name} holds {digits} significant digits: differences within its rounding count as agreement")
    half_ulp = 0.5 * 10.0 ** (1 - digits) if digits is not None else 0.0

    def tol_fn(measure: str, theirs: np.ndarray) -> np.ndarray:
        finite = np.isfinite(theirs)
        scale = np.max(np.abs(theirs[finite])) if finite.any() else 0.0
        return rtol * scale + 1.01 * half_ulp * np.abs(np.where(finite, theirs, 0.0))

    peer = f"R influence.measures ({name})"
    model = _describe(fit) if fit is not None else repr(infl)
    return _build(pairs, ours.index, reasons, tol=tol_fn, n_rows=n_rows, peer=peer, model=model, notes=notes)


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


def _r_default_glm(fit: Any, infl: Any, epsilon: float = 1e-8, maxit: int = 25) -> tuple[int, pd.DataFrame] | None:
    """R's ``glm.fit`` with its default control, replayed: starting means from the family's ``initialize``, Fisher
    scoring until ``|dev - dev_old| / (|dev| + 0.1) < epsilon``, keeping the working weights computed *before* the
    last update (as ``fit$weights`` does). Returns the iterations and regdiag's R-style measures of that state, or
    None when it cannot be replayed (offsets aside, the replay covers every family)."""
    import dataclasses

    from .linalg import qr_factor

    fam = fit.family
    d = fit.design
    X = np.asarray(d.X, dtype=float)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            y, w, _, mustart = fam.prepare(d.y, d.weights, d.index, d.response_name)
            off = np.zeros(len(y)) if d.offset is None else np.asarray(d.offset, dtype=float)
            lk = fam.link
            eta = lk.link(mustart)
            mu = lk.inverse(eta)
            dev_old = fam.deviance(y, mu, w)
            for it in range(1, maxit + 1):
                me = lk.mu_eta(eta)
                W = np.where(w > 0, w * me**2 / fam.variance(mu), 0.0)
                z = eta - off + (y - mu) / me
                sw = np.sqrt(W)
                good = W > 0
                beta = np.linalg.lstsq(X[good] * sw[good, None], z[good] * sw[good], rcond=None)[0]
                eta = X @ beta + off
                mu = lk.inverse(eta)
                dev = fam.deviance(y, mu, w)
                if abs(dev - dev_old) / (abs(dev) + 0.1) < epsilon:
                    break
                dev_old = dev
            if not np.all(np.isfinite(beta)) or fit.rank < X.shape[1]:
                return None
            state = dataclasses.replace(
                fit, factor=qr_factor(X, sw, None), coef=beta, eta=eta, mu=mu, working_weights=W
            )
            frame = state.influence(observed=bool(getattr(infl, "observed", False))).to_frame(style="R")
    except (ArithmeticError, ValueError, TypeError, np.linalg.LinAlgError):
        return None
    return it, frame


def _r_reasons(infl: Any, fit: Any, ours: pd.DataFrame, ref: pd.DataFrame, pairs: dict[str, Any]) -> list[Reason]:
    reasons: list[Reason] = []
    h = ours["hat"].to_numpy() if "hat" in ours else None
    if h is not None:
        one = ours.index[~(h < 1)]
        if len(one):
            pred = {}
            dfb = [m for m in pairs if m.startswith("dfb.")]
            for m in dfb:
                p = pairs[m][0].copy()
                p[~(h < 1)] = 0.0
                pred[m] = p
            reasons.append(
                Reason(
                    "leverage_one",
                    f"leverage 1 at rows {format_labels(list(one), 5)}: R's lm.influence sets their coefficient "
                    "changes to 0 and their dffit, cov.r and cook.d to NaN; regdiag reports every deletion measure "
                    "as NaN (deleting the row makes a coefficient unidentifiable)",
                    predicted=pred,
                    measures=frozenset({"*"}),
                    rows=one,
                )
            )
    if fit is not None and hasattr(fit, "family"):
        r_state = _r_default_glm(fit, infl)
        if r_state is not None:
            its, frame = r_state
            frame.index = frame.index.map(str)
            frame = frame.reindex(ours.index)
            pred = {m: frame[m].to_numpy() for m in pairs if m in frame}
            reasons.append(
                Reason(
                    "r_glm_convergence",
                    f"R's glm stops at its default tolerance (glm.control(epsilon = 1e-8): {its} iterations here) "
                    "and keeps the IRLS weights from before its last update; influence.measures describes that "
                    "iterate, not the converged fit (refit in R with glm.control(epsilon = 1e-14) to compare "
                    "converged fits)",
                    predicted=pred,
                    measures=frozenset(pred),
                )
            )
    if "hat" in pairs:
        ours_h, ref_h, _ = pairs["hat"]
        ok = np.isfinite(ours_h) & np.isfinite(ref_h)
        if ok.any() and np.max(np.abs(ours_h[ok] - ref_h[ok])) > 1e-4 * max(np.max(np.abs(ref_h[ok])), 1e-300):
            reasons.append(
                Reason(
                    "different_model",
                    "the hat values differ, so the file does not come from this model: check the formula (terms and "
                    "their order), the weights, the family and link, and that the same rows were used",
                    measures=frozenset({"*"}),
                )
            )
    observed = bool(getattr(infl, "observed", False))
    if observed and fit is not None and hasattr(fit, "family"):
        exp = _quiet(lambda: fit.influence()).to_frame(style="R")
        exp.index = exp.index.map(str)
        exp = exp.loc[ours.index]
        pred = {m: exp[m].to_numpy() for m in pairs if m in exp}
        reasons.append(
            Reason(
                "observed_information",
                "these measures were computed with the observed information (influence(observed=True)); R uses the "
                "expected (Fisher) information",
                predicted=pred,
                measures=frozenset(pred),
            )
        )
    return reasons
