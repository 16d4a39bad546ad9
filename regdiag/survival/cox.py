"""Cox proportional hazards: the fit, R's residuals, and influence (one-step and exact leave-one-out).

``regdiag.coxph("Surv(time, status) ~ x + strata(g)", data, ties="efron")`` fits the model by Newton's method on
the partial likelihood (Efron's or Breslow's handling of tied event times, stratified baseline hazards) and agrees
with R's ``survival::coxph``: coefficients, the inverse information as covariance, the log partial likelihood, and
``residuals(fit, type = "martingale" / "deviance" / "score" / "schoenfeld" / "dfbeta" / "dfbetas")``. R's
``dfbeta`` is the one-step approximation ``U_i I^{-1}`` (score residual times the inverse information);
:meth:`CoxFit.influence` adds the exact change from deleting each observation (:mod:`regdiag.survival.cox_exact`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from .._distributions import norm_sf
from .._validation import ConditioningWarning, DataError, DesignError
from .._warnings import warn_deletion_unidentifiable, warn_not_converged
from ..design import DesignLabels
from ..linalg import qr_factor
from ..protocols import ModelKind
from ..results import GroupInfluence
from ._core import CoxState, Residuals, evaluate, newton, residuals
from ._risk import RiskSets
from .formula import SurvDesign, surv_arrays, surv_design
from .results import CoxInfluence

__all__ = ["CoxFit", "coxph", "coxph_arrays", "coxph_from_statsmodels", "TIES"]

TIES = ("efron", "breslow")
RESIDUAL_TYPES = ("martingale", "deviance", "score", "schoenfeld", "dfbeta", "dfbetas")


@dataclass(frozen=True, eq=False)
class CoxFit(DesignLabels):
    """A fitted Cox proportional hazards model.

    Attributes
    ----------
    design : SurvDesign
        The validated data (times, status, design, strata, weights).
    coef : ndarray of shape (n_params,)
        Coefficients.
    cov : ndarray of shape (n_params, n_params)
        Inverse of the observed information (R's ``fit$var``; its ``fit$naive.var`` when R uses the robust variance,
        see :attr:`cov_robust`).
    bse : ndarray of shape (n_params,)
        Standard errors.
    loglik : float
        Log partial likelihood at ``coef`` (R's ``fit$loglik[2]``).
    loglik_null : float
        At ``coef = 0`` (R's ``fit$loglik[1]``).
    information : ndarray of shape (n_params, n_params)
        Observed information at ``coef``.
    ties : {"efron", "breslow"}
        The approximation of the partial likelihood for tied times.
    iterations : int
        Newton iterations taken.
    converged : bool
        Whether Newton's method met its tolerance.
    _X : ndarray of shape (n_obs, n_params)
        The centred design in the order of the sorted times, for the residuals and deletions.
    _risk : RiskSets
        The sorted risk sets.
    _state : CoxState
        The partial likelihood and its derivatives at ``coef``.

    Notes
    -----
    ``dfbeta`` (property, shape (n_obs, n_params)) is R's one-step ``residuals(fit, type = "dfbeta")``,
    ``U_i I^{-1}``; ``dfbetas`` divides it by the standard errors.
    """

    model_kind: ClassVar[ModelKind] = ModelKind.COX

    design: SurvDesign
    coef: np.ndarray
    cov: np.ndarray
    bse: np.ndarray
    loglik: float
    loglik_null: float
    information: np.ndarray
    ties: str
    iterations: int
    converged: bool
    _X: np.ndarray = field(repr=False)
    _risk: RiskSets = field(repr=False)
    _state: CoxState = field(repr=False)
    _cache: dict = field(default_factory=dict, init=False, repr=False)

    # ---- basic properties ----------------------------------------------------------------------------------------
    @property
    def n_obs(self) -> int:
        """Number of observations."""
        return self.design.n_obs

    @property
    def n_events(self) -> int:
        """Number of events (rows with status 1)."""
        return int(self.design.status.sum())

    @property
    def params(self) -> pd.Series:
        """Coefficients, indexed by ``param_names`` (a Series named "coef", as R's ``coef(fit)``)."""
        return super().params.rename("coef")

    def summary_frame(self) -> pd.DataFrame:
        """R's ``summary(fit)$coefficients``.

        Returns
        -------
        pandas.DataFrame of shape (n_params, 5)
            Columns ``coef``, ``exp(coef)``, ``se(coef)``, ``z`` and ``Pr(>|z|)``, indexed by ``param_names``.
        """
        z = self.coef / self.bse
        return pd.DataFrame(
            {"coef": self.coef, "exp(coef)": np.exp(self.coef), "se(coef)": self.bse, "z": z,
             "Pr(>|z|)": 2.0 * norm_sf(np.abs(z))},
            index=list(self.param_names),
        )

    # ---- residuals -----------------------------------------------------------------------------------------------
    def _resid(self) -> Residuals:
        if "resid" not in self._cache:
            self._cache["resid"] = residuals(self._X, self._risk, self._state)
        return self._cache["resid"]

    def _unsort(self, a: np.ndarray) -> np.ndarray:
        return a[self._risk.rank]

    @property
    def resid_martingale(self) -> np.ndarray:
        """``delta_i - Lambda_i``, shape (n_obs,), data order."""
        return self._unsort(self._resid().martingale)

    @property
    def resid_deviance(self) -> np.ndarray:
        """``sign(m) sqrt(-2 (m + delta log(delta - m)))``, shape (n_obs,)."""
        m = self.resid_martingale
        dlt = self.design.status
        with np.errstate(divide="ignore", invalid="ignore"):
            term = np.where(dlt > 0, dlt * np.log(np.where(dlt > 0, dlt - m, 1.0)), 0.0)
        return np.sign(m) * np.sqrt(np.maximum(-2.0 * (m + term), 0.0))

    @property
    def resid_score(self) -> np.ndarray:
        """Score residuals ``U_i`` (their sum is the score, 0 at the fit), shape (n_obs, n_params)."""
        return self._unsort(self._resid().score)

    @property
    def resid_schoenfeld(self) -> np.ndarray:
        """``x_i - xbar(t_i)`` for events, NaN for censored rows; shape (n_obs, n_params), data order."""
        return self._unsort(self._resid().schoenfeld)

    @property
    def dfbeta(self) -> np.ndarray:
        """R's one-step ``dfbeta``: ``w_i U_i I^{-1}`` (``w_i`` the case weight; approximately ``beta - beta_(-i)``),
        shape (n_obs, n_params)."""
        U = self.resid_score
        if self.design.weights is not None:  # R: residuals weighted by the case weights for dfbeta
            U = U * self.design.weights[:, None]
        return U @ self.cov

    @property
    def cov_robust(self) -> np.ndarray:
        """The robust (sandwich) covariance of Lin and Wei (1989), shape (n_params, n_params): ``sum_i dfbeta_i
        dfbeta_i'``, or with clusters (``cluster(id)``) ``sum_g D_g D_g'`` for the dfbeta residuals summed within
        each cluster, ``D_g = sum_{i in g} dfbeta_i``. R's ``fit$var`` when ``coxph`` uses the robust variance (with
        ``cluster``, or case weights that are not all integers; ``cov`` is then R's ``fit$naive.var``)."""
        d = self.dfbeta
        if self.design.cluster is not None:
            g = np.zeros((len(self.design.cluster_labels), d.shape[1]))
            np.add.at(g, self.design.cluster, d)
            d = g
        return d.T @ d

    @property
    def bse_robust(self) -> np.ndarray:
        """Robust standard errors ``sqrt(diag(cov_robust))`` (R's ``robust se``), shape (n_params,)."""
        return np.sqrt(np.diag(self.cov_robust))

    @property
    def dfbetas(self) -> np.ndarray:
        """R's ``dfbetas``: ``dfbeta`` divided by the standard errors, shape (n_obs, n_params)."""
        return self.dfbeta / self.bse

    def residuals(self, type: str = "martingale") -> pd.Series | pd.DataFrame:
        """R's ``residuals(fit, type = ...)`` with row labels.

        Parameters
        ----------
        type : {"martingale", "deviance", "score", "schoenfeld", "dfbeta", "dfbetas"}
            ``"schoenfeld"`` has one row per event (censored rows left out), in data order; R orders them by time.

        Returns
        -------
        pandas.Series (martingale, deviance) or pandas.DataFrame (one column per coefficient)
        """
        if type not in RESIDUAL_TYPES:
            raise ValueError(f"type={type!r} is not one of {', '.join(map(repr, RESIDUAL_TYPES))}")
        if type in ("martingale", "deviance"):
            return pd.Series(getattr(self, f"resid_{type}"), index=self.index, name=type)
        if type == "schoenfeld":
            ev = self.design.status > 0
            return pd.DataFrame(self.resid_schoenfeld[ev], index=self.index[ev], columns=list(self.param_names))
        vals = {"score": self.resid_score, "dfbeta": self.dfbeta, "dfbetas": self.dfbetas}[type]
        return pd.DataFrame(vals, index=self.index, columns=list(self.param_names))

    # ---- influence -----------------------------------------------------------------------------------------------
    def influence(self, loo: str | None = "exact", *, tol: float | None = None) -> CoxInfluence:
        """Influence of each observation.

        Parameters
        ----------
        loo : {"exact", None}
            ``"exact"`` adds the exact change of the coefficients when each observation is deleted
            (:func:`regdiag.survival.cox_exact.exact_loo`); ``None`` gives R's one-step measures only.
        tol : float, optional
            Error allowed in the exact deletion, in standard errors of each coefficient (default 1e-10).

        Returns
        -------
        CoxInfluence
        """
        exact = None
        if loo == "exact":
            from .cox_exact import DEFAULT_TOL, exact_loo, exact_loo_by_refits, unidentifiable_deletions

            tol_ = DEFAULT_TOL if tol is None else tol
            general = self.design.entry is not None or self.design.offset is not None
            exact = exact_loo_by_refits(self, tol=tol_) if general else exact_loo(self, tol=tol_)
            lost = unidentifiable_deletions(self.design)
            if lost.any():
                nan_rows = np.where(lost[:, None], np.nan, exact.dfbeta)
                exact = replace(exact, dfbeta=nan_rows, error_bound=np.where(lost, np.nan, exact.error_bound))
                warn_deletion_unidentifiable(self.index[lost])
        elif loo is not None:
            raise ValueError(f"loo={loo!r} is not one of 'exact', None")
        dfb = self.dfbeta
        return CoxInfluence(
            dfbeta_one_step=dfb,
            dfbetas_one_step=dfb / self.bse,
            score_residuals=self.resid_score,
            martingale=self.resid_martingale,
            deviance=self.resid_deviance,
            dfbeta_exact=None if exact is None else exact.dfbeta,
            loo_converged=None if exact is None else exact.converged,
            loo_error=None if exact is None else exact.error_bound,
            loo_iterations=None if exact is None else exact.iterations,
            bse=self.bse,
            information=self.information,
            index=self.index,
            param_names=self.param_names,
            method="coxph-exact" if exact is not None else "coxph-one-step",
            ties=self.ties,
        )

    def group_deletion(self, groups: Any = None, *, tol: float | None = None) -> GroupInfluence:
        """Exact deletion of whole groups of rows: the partial likelihood re-solved without each group.

        Right-censored data without an offset: batched chord iterations from the full fit, the score without the
        group exact at each iterate (its rows leave every risk set, its deaths their blocks' tied-death counts),
        the chord matrix the information with the per-row first-order corrections of the group added; groups
        that do not settle are refitted. Counting-process data and offsets: Newton's method from the full fit
        on the data without each group, to convergence.

        Parameters
        ----------
        groups : array_like, mapping or sequence of sequences, optional
            One group label per row (a Series is aligned on the row labels), ``{group: [row labels]}``, or a list
            of lists of row labels. Default: the fit's clusters (``cluster(id)``), e.g. the subjects of
            counting-process data, whose rows are deleted together.
        tol : float, optional
            Error allowed, in standard errors of each coefficient (default 1e-10); each group's bound on the error
            left (one more Newton step) is checked against it.

        Returns
        -------
        GroupInfluence
            ``dfbeta = b - b_(G)``; ``dfbetas`` over the full fit's standard errors; ``cooks_distance``
            ``dfbeta' I dfbeta / p`` (the information of the full fit); ``leverage`` and ``sigma_loo`` NaN (a Cox
            model has neither).
        """
        from .cox_exact import DEFAULT_TOL, cox_group_deletion

        if groups is None:
            if self.design.cluster is None:
                raise ValueError("pass groups=, or fit the model with cluster(id) to delete its clusters")
            groups = pd.Series(np.asarray(self.design.cluster_labels)[self.design.cluster], index=self.index)
        return cox_group_deletion(self, groups, tol=DEFAULT_TOL if tol is None else tol)

    def refit(self, keep: np.ndarray, start: np.ndarray | None = None) -> CoxFit:
        """The same model on some of the rows.

        Parameters
        ----------
        keep : ndarray of shape (n_obs,) of bool, or of int
            The rows to keep: a boolean mask or positions, in data order.
        start : ndarray of shape (n_params,), optional
            Coefficients Newton's method starts from (default zeros).

        Returns
        -------
        CoxFit
            The fit to the kept rows.
        """
        return fit_design(self.design.subset(np.asarray(keep)), ties=self.ties, start=start)


def _check_ties(ties: str) -> str:
    t = str(ties).lower()
    if t == "exact":
        raise ValueError("ties='exact' (the exact partial likelihood of tied times) is not supported; use 'efron' "
                         "(R's default) or 'breslow'")
    if t not in TIES:
        raise ValueError(f"ties={ties!r} is not one of 'efron', 'breslow'")
    return t


def fit_design(design: SurvDesign, ties: str = "efron", start: np.ndarray | None = None,
               maxit: int = 50) -> CoxFit:
    """Fit a Cox model to a :class:`SurvDesign`."""
    ties = _check_ties(ties)
    X = np.asarray(design.X, dtype=float)
    n, p = X.shape
    if n == 0:
        raise DataError("no rows to fit")
    _check_aliased(design)
    rs = RiskSets(design.time, design.status, design.strata, efron=ties == "efron", weights=design.weights,
                  entry=design.entry, offset=design.offset)
    Xs = X[rs.order] - X.mean(axis=0)
    b0 = np.zeros(p) if start is None else np.asarray(start, dtype=float)
    null = evaluate(Xs, rs, np.zeros(p), information=False).loglik
    res = newton(Xs, rs, b0, maxit=maxit)
    st = res.state
    info = st.information
    assert info is not None  # Newton's method evaluates the information at every iterate
    if not res.converged:
        warn_not_converged(
            "the Cox model", res.iterations, "Newton iterations", " (a coefficient may be infinite: a covariate that "
            "separates the events, monotone likelihood)", category=ConditioningWarning,
        )
    try:
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError as exc:
        raise DesignError(f"the information matrix is singular at the fit: {exc}") from exc
    cov = (cov + cov.T) / 2.0
    var = np.diag(cov)
    bse = np.sqrt(np.where(var >= 0, var, np.nan))  # negative only for a fit that did not converge (warned)
    return CoxFit(design=design, coef=res.beta, cov=cov, bse=bse, loglik=st.loglik,
                  loglik_null=null, information=info, ties=ties, iterations=res.iterations,
                  converged=res.converged, _X=Xs, _risk=rs, _state=st)


def _check_aliased(design: SurvDesign) -> None:
    """A column that is constant within strata, or a combination of others, has no coefficient: say which."""
    X = np.asarray(design.X, dtype=float)
    Xc = X.copy()
    for s in np.unique(design.strata):
        m = design.strata == s
        Xc[m] -= X[m].mean(axis=0)
    # a column constant within every stratum is zero after centring, up to rounding that scaling would magnify
    flat = np.linalg.norm(Xc, axis=0) <= 1e-12 * np.maximum(np.linalg.norm(X, axis=0), 1e-300)
    bad_cols = set(np.flatnonzero(flat).tolist())
    rest = np.flatnonzero(~flat)
    if rest.size:
        f = qr_factor(Xc[:, rest])
        bad_cols |= {int(rest[j]) for j in np.asarray(f.aliased)}
    if bad_cols:
        bad = [design.param_names[j] for j in sorted(bad_cols)]
        raise DesignError(
            f"the Cox model's covariates are linearly dependent (within strata, where an intercept cancels): "
            f"{', '.join(map(repr, bad))} {'is' if len(bad) == 1 else 'are'} a combination of the others or "
            "constant within every stratum; remove them"
        )


def coxph(
    formula: str,
    data: Any,
    *,
    ties: str = "efron",
    weights: Any = None,
    missing: str = "drop",
    context: Mapping[str, Any] | None = None,
    cluster: Any = None,
) -> CoxFit:
    """Fit a Cox proportional hazards model, as R's ``survival::coxph``.

    Parameters
    ----------
    formula : str
        ``"Surv(time, status) ~ x1 + x2 + strata(g)"``: ``time`` a column (or expression) of follow-up times,
        ``status`` 0/1 (1 = event), TRUE/FALSE or 1/2 (2 = event) as R's ``Surv``; ``strata(...)`` terms give each
        stratum (each combination of their values) its own baseline hazard. Other terms as in :func:`regdiag.ols`
        (categorical variables with R's treatment coding, transforms, interactions); no intercept.
        ``Surv(start, stop, event)``: counting-process data, each row at risk on ``(start, stop]`` (time-varying
        covariates, delayed entry; ``start < stop``). ``offset(o)``: ``o`` added to the linear predictor.
        ``cluster(id)``: rows with the same ``id`` are one cluster (a subject) for :attr:`CoxFit.cov_robust` (R's
        robust variance) and the default groups of :meth:`CoxFit.group_deletion`.
    data : pandas.DataFrame
    ties : {"efron", "breslow"}
        Handling of tied event times (R's default: Efron).
    weights : str or array_like of shape (n_obs,), optional
        Case weights (a column name or values), positive, as R's ``coxph(weights = )``: each observation counts
        ``w_i`` times in its event term and its risk sets; with Breslow's ties, integer weights give the fit of the
        data with each row repeated ``w_i`` times. Residuals are per unit weight, R's ``dfbeta`` is weighted.
    missing : {"drop", "raise"}
    context : mapping, optional
        Extra names for the formula.
    cluster : str or array_like of shape (n_obs,), optional
        As a ``cluster()`` term: a column name or values.

    Returns
    -------
    CoxFit

    Examples
    --------
    >>> import numpy as np, pandas as pd, regdiag
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=60)
    >>> t, c = rng.exponential(np.exp(-x)), rng.exponential(2.0, 60)
    >>> df = pd.DataFrame({"time": np.minimum(t, c), "status": (t <= c).astype(int), "x": x,
    ...                    "g": rng.choice(["u", "v"], 60)})
    >>> fit = regdiag.coxph("Surv(time, status) ~ x + strata(g)", data=df)
    >>> fit.params.round(4).tolist(), fit.bse.round(4).tolist()
    ([1.0013], [0.2285])
    >>> infl = fit.influence()                   # exact deletion of every row, and R's one-step dfbeta
    >>> float(infl.dfbeta_exact[48, 0].round(4)), float(infl.dfbeta_one_step[48, 0].round(4))
    (-0.1294, -0.0946)
    """
    ties = _check_ties(ties)
    design = surv_design(formula, data, weights=weights, missing=missing, context=context, cluster=cluster)
    return fit_design(design, ties=ties)


def coxph_arrays(
    time: Any, status: Any, X: Any, strata: Any = None, *, ties: str = "efron", weights: Any = None
) -> CoxFit:
    """Fit a Cox model from arrays.

    Parameters
    ----------
    time : array_like of shape (n_obs,)
        Event or censoring times.
    status : array_like of shape (n_obs,)
        1 for an event, 0 for censoring.
    X : array_like of shape (n_obs, n_params)
        The design, used as given (no intercept: the partial likelihood has none).
    strata : array_like of shape (n_obs,), optional
        Stratum of each row (any labels).
    ties : {"efron", "breslow"}
        The approximation for tied times.
    weights : array_like of shape (n_obs,), optional
        Case weights.

    Returns
    -------
    CoxFit
        The fitted model.
    """
    return fit_design(surv_arrays(time, status, X, strata, weights=weights), ties=ties)


def coxph_from_statsmodels(results: Any) -> CoxFit:
    """Refit a statsmodels ``PHReg`` model (its ``exog``, times, status, strata, offset and ties) with regdiag.

    Parameters
    ----------
    results : statsmodels.duration.hazard_regression.PHRegResults
        A fitted statsmodels ``PHReg``.

    Returns
    -------
    CoxFit
        The same model fitted by regdiag.

    Raises
    ------
    DataError
        For another model, delayed entry, or case weights (which statsmodels' fit does not use).
    """
    model = results.model
    if type(model).__name__ != "PHReg":
        raise DataError(f"expected statsmodels PHReg results, got {type(model).__name__}")
    if getattr(model, "entry", None) is not None and np.any(np.asarray(model.entry) != 0):
        raise DataError("statsmodels PHReg with entry times (delayed entry) is not supported")
    w = getattr(model, "weights", None)
    if w is not None and not np.all(np.asarray(w) == 1):
        # statsmodels 0.14-0.15 store PHReg's weights but its likelihood does not use them: the fit is unweighted
        raise DataError(
            "this statsmodels PHReg was given case weights, which its partial likelihood does not use (its fit is "
            "the unweighted one); fit the weighted model with regdiag.coxph(formula, data, weights=...)"
        )
    names = list(model.exog_names)
    labels = getattr(model.data, "row_labels", None)
    index = pd.Index(labels) if labels is not None else pd.RangeIndex(len(model.endog))
    strata = getattr(model, "strata", None)
    design = surv_arrays(model.endog, model.status, model.exog, strata, names=names, index=index)
    offset = getattr(model, "offset", None)
    if offset is not None:
        design = replace(design, offset=np.asarray(offset, dtype=float).reshape(-1))
    return fit_design(design, ties=str(model.ties).lower())
