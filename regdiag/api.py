"""The entry layer: what users pass (a formula and a DataFrame, arrays, Dask collections, statsmodels results) is
told apart here, once, and handed to the in-memory fits of :mod:`regdiag.linear`, to the Dask fits of
:mod:`regdiag.dask`, or (statsmodels results) to :func:`regdiag.from_statsmodels.fit_from_statsmodels`.

The package root re-exports these functions (``regdiag.ols`` is :func:`regdiag.api.ols`), and, from their own
modules, the fit functions that take one kind of input only (``regdiag.rlm``, ``regdiag.coxph``,
``regdiag.cross_check``), so that their first use loads no more than they need. The layers below know nothing of
Dask and never import this module (see the design page).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .compare import compare
from .from_statsmodels import fit_from_statsmodels
from .input_kind import is_dask, is_statsmodels
from .linear.glm import glm as glm_in_memory
from .linear.glm import negbin_alpha
from .linear.glm_irls import DEFAULT_MAXIT, DEFAULT_TOL
from .linear.ols import ols as ols_in_memory

if TYPE_CHECKING:  # pragma: no cover
    from .dask import DaskGLMFit, DaskOLSFit
    from .linear.glm import GLMFit
    from .linear.ols import OLSFit
    from .results import Influence

__all__ = ["compare", "glm", "influence", "ols"]


def ols(
    y_or_formula: Any,
    X: Any = None,
    *,
    data: Any = None,
    weights: Any = None,
    missing: str = "omit",
    tol: float | None = None,
) -> OLSFit | DaskOLSFit:
    """Fit a linear model by ordinary or weighted least squares.

    Parameters
    ----------
    y_or_formula : str or array_like of shape (n_obs,)
        A formula such as ``"y ~ x1 + x2"`` (needs ``data``; an intercept is added as in R), or the response.
    X : array_like of shape (n_obs, n_params), optional
        The design when ``y_or_formula`` is the response, used as given (no intercept is added, as in
        statsmodels). A DataFrame's column names become the parameter names.
    data : pandas.DataFrame, optional
        Data for a formula.
    weights : str or array_like of shape (n_obs,), optional
        Analytic (precision) weights: a weight of k counts like k duplicated rows in the fit; a weight of 0 takes
        the row out of the fit. A string names a column of ``data``.
    missing : {"omit", "drop", "raise"}
        ``"omit"`` (R's ``na.omit``): rows with a missing value (NaN, None, NA) are dropped and listed in
        ``fit.design.dropped`` and the summary; an infinite value, in the data or made by a transform such as
        ``log(0)``, is an error naming the term and rows (R's ``NA/NaN/Inf in 'y'``). ``"drop"``: those rows are
        dropped too, with one warning naming them. ``"raise"``: any missing or non-finite value is an error.
    tol : float, optional
        Rank tolerance on the pivots of the equilibrated design (default ``10 sqrt(n) eps``).

    Returns
    -------
    OLSFit
        Or, for Dask arrays / DataFrames (a formula over a Dask DataFrame, weights naming its column), a
        :class:`regdiag.dask.DaskOLSFit` whose influence measures are lazy Dask collections (needs the extra
        ``regdiag[dask]``).

    Examples
    --------
    >>> import regdiag
    >>> df = regdiag.datasets.load("LifeCycleSavings")
    >>> fit = regdiag.ols("sr ~ pop15 + pop75 + dpi + ddpi", data=df)
    >>> infl = fit.influence()
    >>> round(float(infl.cooks_distance.max()), 4)
    0.2681
    """
    if is_dask(y_or_formula, X, data, weights):
        from .dask import ols as dask_ols

        return dask_ols(y_or_formula, X, data=data, weights=weights, missing=missing, tol=tol)
    return ols_in_memory(y_or_formula, X, data=data, weights=weights, missing=missing, tol=tol)


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
    theta: float | None = None,
    start: Any = None,
    dispersion: float | None = None,
    missing: str = "omit",
    tol: float = DEFAULT_TOL,
    maxit: int = DEFAULT_MAXIT,
    rank_tol: float | None = None,
) -> GLMFit | DaskGLMFit:
    """Fit a generalized linear model by IRLS (Fisher scoring) finishing on a QR of the weighted design.

    Parameters
    ----------
    y_or_formula : str or array_like of shape (n_obs,) or (n_obs, 2)
        A formula such as ``"y ~ x1 + x2"`` (needs ``data``; an intercept is added as in R), or the response. A
        binomial response is 0/1, a proportion (with the numbers of trials as ``weights``), or two columns of
        successes and failures: ``"cbind(s, f) ~ x"`` or a two-column array / DataFrame.
    X : array_like of shape (n_obs, n_params), optional
        The design when ``y_or_formula`` is the response, used as given (no intercept is added).
    data : pandas.DataFrame, optional
        Data for a formula.
    family : str or Family
        "gaussian", "binomial", "poisson", "gamma", "inverse_gaussian" or "negative_binomial" (R's names such as
        "Gamma" and "inverse.gaussian" work too).
    link : str, optional
        "identity", "log", "logit", "probit", "cloglog", "inverse", "inverse_squared" (R's "1/mu^2") or "sqrt";
        the family's canonical link by default (log for the negative binomial).
    weights : str or array_like of shape (n_obs,), optional
        Prior weights (R's ``weights``; numbers of trials for a binomial proportion). Zero takes a row out.
    offset : str or array_like of shape (n_obs,), optional
        Offset on the linear-predictor scale (e.g. ``log(exposure)``). A formula may also contain R's
        ``offset(expr)`` terms (``"y ~ x + offset(log(exposure))"``): they are evaluated on the data and added to
        this argument.
    alpha, theta : float, optional
        Negative binomial: ``V(mu) = mu + alpha mu^2 = mu + mu^2 / theta``. Give either to fix it (R's
        ``glm(family = negative.binomial(theta))``; the dispersion is then Pearson's estimate unless ``dispersion``
        is given). Give neither and theta is estimated by maximum likelihood alternating with IRLS, as
        ``MASS::glm.nb`` (:mod:`regdiag.linear.negbin`): ``fit.theta`` holds the estimate and its standard error,
        the dispersion is 1, and the influence measures treat theta as known (as R's ``influence.measures``).
    start : array_like of shape (n_params,), optional
        Starting coefficients (R's ``start``); default: R's starting means of the family.
    dispersion : float, optional
        Fix the dispersion; default 1 for binomial, Poisson and a negative binomial with theta estimated, and
        Pearson's chi-square over ``df_resid`` otherwise (R's convention).
    missing : {"omit", "drop", "raise"}
        ``"omit"`` (R's ``na.omit``): rows with a missing value (NaN, None, NA) are dropped and listed in
        ``fit.design.dropped`` and the summary; an infinite value, in the data or made by a transform such as
        ``log(0)``, is an error naming the term and rows (R's ``NA/NaN/Inf in 'y'``). ``"drop"``: those rows are
        dropped too, with one warning naming them. ``"raise"``: any missing or non-finite value is an error.
    tol : float
        Convergence tolerance of IRLS (see :mod:`regdiag.linear.glm_irls`): the last step is below ``tol`` times
        ``|b_j| + se_j`` in every coefficient, allowing for linear convergence.
    maxit : int
        Largest number of IRLS iterations.
    rank_tol : float, optional
        Rank tolerance of the QR (default ``10 sqrt(n) eps``).

    Returns
    -------
    GLMFit
        Or, for Dask arrays / DataFrames (a formula over a Dask DataFrame, weights and offset naming its columns),
        a :class:`regdiag.dask.DaskGLMFit` whose influence measures are lazy Dask collections (needs the extra
        ``regdiag[dask]``).

    Raises
    ------
    DataError
        A response outside the family's support (negative counts, a binomial response outside [0, 1], a
        non-positive Gamma or inverse Gaussian response), bad weights, missing values with ``missing="raise"``.
    DesignError
        An unknown family or link, or a family/link pair R does not allow; no valid starting values.
    ConvergenceError
        IRLS did not converge (``err.deviance_trace`` holds the deviance after every iteration); the message says
        whether it stalled (more iterations cannot help) or was still converging. A separated binomial model is not
        an error: it warns, naming the separating direction and rows, and its influence measures are NaN. Nor is a
        Poisson or negative binomial model (log link) whose maximum-likelihood estimate is on the boundary (a factor
        level, or a group, whose counts are all 0): it warns in the same way, its other coefficients are the fit
        without those rows, and those rows' fitted means are at the log link's floor ``eps`` (as R's ``glm`` at
        ``epsilon = 1e-15``). With the identity or sqrt link such a model is a DesignError naming the rows.

    Examples
    --------
    >>> import regdiag
    >>> df = regdiag.datasets.load("mtcars")
    >>> fit = regdiag.glm("am ~ wt", data=df, family="binomial")
    >>> round(float(fit.params["wt"]), 4)
    -4.024
    >>> infl = fit.influence()
    >>> infl.to_frame("R").columns.tolist()
    ['dfb.1_', 'dfb.wt', 'dffit', 'cov.r', 'cook.d', 'hat']
    """
    if is_dask(y_or_formula, X, data, weights, offset):
        alpha, _ = negbin_alpha(family, link, alpha, theta, estimable=False)
        from .dask import glm as dask_glm

        return dask_glm(
            y_or_formula, X, data=data, family=family, link=link, weights=weights, offset=offset, alpha=alpha,
            start=start, dispersion=dispersion, missing=missing, tol=tol, maxit=maxit, rank_tol=rank_tol,
        )
    return glm_in_memory(
        y_or_formula, X, data=data, family=family, link=link, weights=weights, offset=offset, alpha=alpha,
        theta=theta, start=start, dispersion=dispersion, missing=missing, tol=tol, maxit=maxit, rank_tol=rank_tol,
    )


def influence(results: Any, **kwargs: Any) -> Influence:
    """Influence measures of a fitted model: a regdiag fit, or a statsmodels OLS / WLS / GLM / RLM / discrete-model
    results object.

    For a statsmodels results object the model's own design, response, weights and row labels are refitted with
    regdiag's factorization (the coefficients agree with statsmodels'), and regdiag's closed-form measures are
    returned: right for WLS and rank-deficient designs, where statsmodels' ``OLSInfluence`` is not. A statsmodels
    ``GLM`` is refitted with its family, link, weights and offset (:func:`regdiag.glm`) and gives a
    :class:`GLMInfluence`; a ``PHReg`` (Cox model) is refitted with :func:`regdiag.coxph` and gives a
    :class:`CoxInfluence`.
    A statsmodels ``RLM`` is refitted with its norm and scale estimate to the fixed point
    (:func:`regdiag.linear.rlm.rlm_from_statsmodels`, exact leave-one-out by default); ``Logit``, ``Probit``,
    ``Poisson``, ``NegativeBinomial`` (NB2), ``GeneralizedPoisson`` and ``MNLogit`` by maximum likelihood
    (:func:`regdiag.linear.discrete.discrete_from_statsmodels`). The refit is
    :func:`regdiag.from_statsmodels.fit_from_statsmodels`.

    Parameters
    ----------
    results : OLSFit or statsmodels results
    **kwargs
        Passed to the fit's ``influence()``.

    Returns
    -------
    Influence
    """
    if is_statsmodels(results):
        return fit_from_statsmodels(results).influence(**kwargs)
    if hasattr(results, "influence") and callable(results.influence):
        return results.influence(**kwargs)
    raise TypeError(
        f"cannot compute influence for a {type(results).__name__}; pass a regdiag fit or statsmodels results"
    )
