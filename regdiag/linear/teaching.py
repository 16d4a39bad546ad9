"""The numbers behind the plots teachers reach for: collinearity (VIF and generalized VIF, as ``car::vif``),
component + residual (partial) residuals (``car::crPlots``), the series of an influence index plot
(``car::infIndexPlot``), Hadi's potential and residual functions, and the exact fit with a chosen row or group
deleted.

Numbers only: :mod:`regdiag.plots` draws them. Everything comes from the fit's own factorization (no refit, no
n x n matrix).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import pandas as pd

from .._validation import DataError
from .glm import GLMFit

if TYPE_CHECKING:  # pragma: no cover
    from .ols import OLSFit

#: the fits the teaching numbers are defined for: least squares and GLMs (a QR factor and a design of terms)
LinearFit: TypeAlias = "OLSFit | GLMFit"

__all__ = ["term_columns", "numeric_terms", "vif", "partial_residuals", "index_values", "potential_residual",
           "DeletionEffect", "deletion_effect"]

_INTERCEPTS = ("Intercept", "(Intercept)", "const")


def term_columns(fit: LinearFit) -> dict[str, list[int]]:
    """The model's terms (the intercept left out) and the design columns of each, in order.

    From the formula's terms where the design came from a formula (a factor with k levels is one term of k - 1
    columns, as R's ``assign``); otherwise each column is its own term.

    Parameters
    ----------
    fit : OLSFit or GLMFit
        The fit.

    Returns
    -------
    dict of str to list of int
        Term name to the positions of its design columns.
    """
    design = fit.design
    names = list(design.param_names)
    spec = getattr(design, "model_spec", None)
    indices = getattr(spec, "term_indices", None)
    if indices:
        # the formula's columns are the design's but for its offset(...) terms, which are not coefficients
        offsets = set(getattr(design, "offset_columns", ()))
        columns = tuple(getattr(spec, "column_names", ()))
        kept = [j for j in range(len(columns)) if j not in offsets]
        if [columns[j] for j in kept] == names:
            position = {j: k for k, j in enumerate(kept)}
            out = {str(term): [position[j] for j in cols if j in position] for term, cols in indices.items()
                   if str(term) != "1"}
            out = {term: cols for term, cols in out.items() if cols}
            if out:
                return out
    return {nm: [j] for j, nm in enumerate(names) if nm not in _INTERCEPTS}


def numeric_terms(fit: LinearFit) -> list[str]:
    """The terms that are one numeric column (not a factor, whatever its number of levels): the terms a component
    + residual plot draws as a scatter plot (car's ``crPlots`` draws factors as box plots).

    Parameters
    ----------
    fit : OLSFit or GLMFit
        The fit.

    Returns
    -------
    list of str
        Term names, in order.
    """
    design = fit.design
    spec = getattr(design, "model_spec", None)
    contrasts = getattr(spec, "factor_contrasts", None) or {}
    factors = {str(f) for f in contrasts}
    indices = getattr(spec, "term_indices", None) or {}
    categorical = {str(t) for t in indices if any(str(f) in factors for f in getattr(t, "factors", ()))}
    return [t for t, cols in term_columns(fit).items() if len(cols) == 1 and t not in categorical]


def _has_intercept(fit: LinearFit) -> bool:
    return any(nm in _INTERCEPTS for nm in fit.design.param_names)


def vif(fit: LinearFit) -> pd.DataFrame:
    """Variance inflation factors, generalized for terms of several columns (Fox & Monette 1992), as ``car::vif``.

    Parameters
    ----------
    fit : OLSFit or GLMFit

    Returns
    -------
    pandas.DataFrame
        Indexed by term: ``GVIF``, ``Df`` (columns of the term) and ``GVIF^(1/(2*Df))`` (comparable across terms of
        different sizes; for one column it is ``sqrt(VIF)``).

    Raises
    ------
    DataError
        Fewer than two terms, or aliased coefficients (as car: the factors are then undefined).

    Notes
    -----
    With ``R`` the correlation matrix of the coefficient estimates of the non-intercept columns (from
    ``(X'WX)^{-1}``; the scale cancels), ``GVIF_T = det(R_TT) det(R_-T-T) / det(R)``. For a term of one column
    this is the usual ``1 / (1 - R_j^2)``.
    """
    if fit.aliased:
        raise DataError(f"VIF is undefined with aliased coefficients ({', '.join(fit.aliased)}); drop them from "
                        "the model first")
    terms = term_columns(fit)
    if len(terms) < 2:
        raise DataError("VIF needs at least two terms besides the intercept")
    cov = fit.factor.cov_unscaled()
    keep = [j for cols in terms.values() for j in cols]
    keep = sorted(set(keep))
    sub = cov[np.ix_(keep, keep)]
    d = np.sqrt(np.diag(sub))
    corr = sub / d[:, None] / d[None, :]
    where = {j: k for k, j in enumerate(keep)}
    _, logdet_all = np.linalg.slogdet(corr)
    rows = []
    for term, cols in terms.items():
        inside = [where[j] for j in cols]
        outside = [k for k in range(len(keep)) if k not in inside]
        _, ld_in = np.linalg.slogdet(corr[np.ix_(inside, inside)])
        ld_out = np.linalg.slogdet(corr[np.ix_(outside, outside)])[1] if outside else 0.0
        g = float(np.exp(ld_in + ld_out - logdet_all))
        rows.append((term, g, len(cols), g ** (1.0 / (2 * len(cols)))))
    out = pd.DataFrame(rows, columns=["term", "GVIF", "Df", "GVIF^(1/(2*Df))"]).set_index("term")
    out.attrs["intercept"] = _has_intercept(fit)
    return out


def _working_resid(fit: LinearFit) -> np.ndarray:
    if isinstance(fit, GLMFit):
        return np.asarray(fit.resid_working, dtype=float)
    return np.asarray(fit.resid, dtype=float)


def partial_residuals(fit: LinearFit) -> pd.DataFrame:
    """Component + residual (partial) residuals of every term, as R's ``residuals(fit, type = "partial")`` which
    ``car::crPlots`` draws.

    Parameters
    ----------
    fit : OLSFit or GLMFit
        The fit.

    Returns
    -------
    pandas.DataFrame of shape (n_obs, n_terms)
        Column ``T``: the working residual (``y - fitted`` for a linear model, ``(y - mu) / mu'(eta)`` for a GLM)
        plus the term's centred contribution to the linear predictor, ``X_T b_T - mean(X_T) b_T`` (column means
        unweighted, as R's ``predict(type = "terms")``). Rows in data order, indexed by row label.
    """
    X = np.asarray(fit.design.X, dtype=float)
    b = np.nan_to_num(np.asarray(fit.coef, dtype=float))
    e = _working_resid(fit)
    centred = X - X.mean(axis=0) if _has_intercept(fit) else X
    out = {}
    for term, cols in term_columns(fit).items():
        out[term] = e + centred[:, cols] @ b[cols]
    return pd.DataFrame(out, index=fit.design.index)


def component_values(fit: LinearFit, term: str) -> np.ndarray:
    """The values the component + residual plot of a one-column ``term`` has on its x-axis: the term's design
    column (e.g. ``log(u)`` for a term ``log(u)``), shape (n_obs,)."""
    cols = term_columns(fit).get(term)
    if cols is None:
        raise DataError(f"no term named {term!r}; the terms are {', '.join(term_columns(fit))}")
    if len(cols) != 1:
        raise DataError(f"term {term!r} has {len(cols)} columns (a factor): its component + residual plot is a "
                        "box plot per level, not a scatter plot")
    return np.asarray(fit.design.X, dtype=float)[:, cols[0]]


def index_values(infl: Any, outlier_test: pd.DataFrame | None = None) -> pd.DataFrame:
    """The four series of ``car::infIndexPlot``: Cook's distance, studentized residuals, Bonferroni p-values and
    hat values, by row in data order.

    The Bonferroni p-value of a row is ``min(1, n * p)`` with ``p`` the two-sided p-value of its studentized residual
    and ``n`` the number of rows with one, as car's ``outlierTest`` computes it (``outlier_test(style="R")``): t
    with ``df_resid - 1`` degrees of freedom for a linear model and for a negative binomial with theta estimated
    (R's class ``negbin``), the normal for other GLMs; NaN where the residual is undefined.

    Parameters
    ----------
    infl : Influence or GLMInfluence
        The fit's influence measures.
    outlier_test : pandas.DataFrame, optional
        The result's ``outlier_test(cutoff=None, n_max=None, style="R")`` where it is already computed (else it is
        computed here).

    Returns
    -------
    pandas.DataFrame
        Columns ``cooks_distance``, ``student_resid``, ``bonferroni_p``, ``leverage``; indexed by row label.
    """
    ot = infl.outlier_test(cutoff=None, n_max=None, style="R") if outlier_test is None else outlier_test
    bonf = ot["bonferroni_p"].reindex(infl.index).to_numpy(dtype=float)
    return pd.DataFrame(
        {"cooks_distance": np.asarray(infl.cooks_distance, dtype=float),
         "student_resid": np.asarray(infl.student_resid, dtype=float),
         "bonferroni_p": bonf,
         "leverage": np.asarray(infl.leverage, dtype=float)},
        index=infl.index,
    )


def potential_residual(infl: Any) -> pd.DataFrame:
    """Hadi's (1992) potential and residual functions, the coordinates of the potential-residual plot.

    Parameters
    ----------
    infl : Influence or GLMInfluence
        The fit's influence measures.

    Returns
    -------
    pandas.DataFrame
        ``potential`` ``h / (1 - h)``, ``residual`` ``p / (1 - h) * d^2 / (1 - d^2)`` and their sum ``hadi`` (Hadi's
        influence measure), with ``d^2 = e^2 / sum(e^2)`` the squared normalized residual (weighted residuals for a
        linear model, Pearson residuals for a GLM) and ``p`` the rank. NaN where ``h = 1`` or the weight is zero.

    Notes
    -----
    A point high on the potential axis is remote in the design; one far along the residual axis is badly fitted.
    ``1 - d_i^2 - h_i`` is the share of the residual sum of squares left when row i is deleted, relative to the
    whole, so the residual function grows without bound as deleting the row would take away all the misfit.
    """
    h = np.asarray(infl.leverage, dtype=float)
    pearson = getattr(infl, "resid_pearson", None)
    if pearson is not None:
        e = np.asarray(pearson, dtype=float)
    else:
        e = np.asarray(infl.resid, dtype=float)
        if infl.weights is not None:
            e = e * np.sqrt(np.asarray(infl.weights, dtype=float))
    w = infl.weights
    used = np.isfinite(h) & (h < 1) & (np.ones(len(h), dtype=bool) if w is None else np.asarray(w) > 0)
    e = np.where(used, e, 0.0)
    d2 = e**2 / float(np.sum(e**2))
    p = float(infl.rank)
    with np.errstate(divide="ignore", invalid="ignore"):
        potential = h / (1.0 - h)
        residual = p / (1.0 - h) * d2 / (1.0 - d2)
    potential[~used] = np.nan
    residual[~used] = np.nan
    return pd.DataFrame({"potential": potential, "residual": residual, "hadi": potential + residual},
                        index=infl.index)


@dataclass(frozen=True, eq=False)
class DeletionEffect:
    """The fit with and without a chosen set of rows (exact, from the closed form).

    Attributes
    ----------
    rows : pandas.Index
        The deleted rows' labels.
    params, params_deleted : ndarray of shape (n_params,)
        Coefficients of the whole fit and with the rows deleted.
    param_names : tuple of str
    cooks_distance : float
        The rows' joint Cook's distance.
    method : str
    """

    rows: pd.Index
    params: np.ndarray
    params_deleted: np.ndarray
    param_names: tuple[str, ...]
    cooks_distance: float
    method: str


def deletion_effect(fit: LinearFit, rows: Any) -> DeletionEffect:
    """The exact coefficients with ``rows`` (a row label or a list of them) deleted, from the closed form
    (:func:`regdiag.linear.deletion.group_deletion`; for a GLM the exact leave-group-out refit from the fit).

    Parameters
    ----------
    fit : OLSFit or GLMFit
        The fit.
    rows : label or list of labels
        Row labels of the observations deleted together.

    Returns
    -------
    DeletionEffect
        The coefficients with and without the rows.
    """
    labels = [rows] if np.isscalar(rows) else list(rows)
    missing = [r for r in labels if r not in fit.design.index]
    if missing:
        raise DataError(f"row {missing[0]!r} is not a row label of the fit")
    if isinstance(fit, GLMFit):
        g = fit.group_deletion({"deleted": labels}, loo="exact")
    else:
        g = fit.group_deletion({"deleted": labels})
    return DeletionEffect(
        rows=pd.Index(labels), params=np.asarray(fit.coef, dtype=float), params_deleted=np.asarray(g.loo_params[0]),
        param_names=tuple(fit.design.param_names), cooks_distance=float(g.cooks_distance[0]), method=g.method,
    )
