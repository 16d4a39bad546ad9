"""What a fitted model and an influence result give the rest of the package: the typed protocols.

Every model class (least squares, GLMs and the negative binomial, robust regression, statsmodels' discrete models,
Cox, and their Dask versions) declares its :class:`ModelKind` as the class attribute ``model_kind``; code that treats
model classes differently reads that attribute instead of probing for attributes. A fit satisfies :class:`Fit`;
what its ``influence()`` returns satisfies :class:`InfluenceResult`. See :doc:`/adding_a_model` for the checklist a
new model class follows.
"""

from __future__ import annotations

import enum
import inspect
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import pandas as pd

__all__ = ["ModelKind", "Fit", "GroupDeletionFit", "InfluenceResult", "model_kind", "is_glm"]


class ModelKind(str, enum.Enum):
    """The model class of a fit: which estimating equations its numbers come from.

    The value is the short name used in messages and in ``method`` strings.

    Parameters
    ----------
    value : str
        A short name: ``ModelKind("glm")`` is ``ModelKind.GLM``.
    """

    # calling the class looks a member up by its value (the signature inspect would otherwise show is the one of
    # Enum's functional API, which does not apply to a class with members)
    __signature__ = inspect.Signature([inspect.Parameter("value", inspect.Parameter.POSITIONAL_ONLY)])

    #: least squares, weighted or not (:class:`regdiag.linear.ols.OLSFit`, the Dask fit)
    OLS = "ols"
    #: a generalized linear model fitted by IRLS, the negative binomial with theta included
    #: (:class:`regdiag.linear.glm.GLMFit`, the Dask fit)
    GLM = "glm"
    #: robust M or MM regression (:class:`regdiag.linear.rlm.RLMFit`)
    RLM = "rlm"
    #: a maximum-likelihood model with one or several linear predictors (:class:`regdiag.linear.discrete.MLEFit`)
    MLE = "mle"
    #: Cox proportional hazards (:class:`regdiag.survival.cox.CoxFit`)
    COX = "cox"


@runtime_checkable
class InfluenceResult(Protocol):
    """The shape every influence result shares: read-only arrays in the order of ``index`` and ``param_names``.

    Attributes
    ----------
    index : pandas.Index
        Row labels (group labels for group deletion).
    param_names : tuple of str
    method : str
        How the numbers were computed ("ols", "glm-one-step", "glm-exact", "rlm-exact", "coxph-exact",
        "engine:ekfac/direct", ...).
    dfbeta : ndarray of shape (n_rows, n_params)
        ``b - b_(i)``: the change of the coefficients on deleting row (or group) i, R's and statsmodels' sign.
    dfbetas : ndarray of shape (n_rows, n_params)
        ``dfbeta`` in standard errors (which ones: each result's documentation).
    """

    @property
    def index(self) -> pd.Index:
        """Row labels (group labels for group deletion)."""
        ...

    @property
    def param_names(self) -> tuple[str, ...]:
        """Names of the coefficients, the columns of ``dfbeta``."""
        ...

    @property
    def method(self) -> str:
        """How the numbers were computed ("ols", "glm-one-step", "glm-exact", ...)."""
        ...

    @property
    def dfbeta(self) -> np.ndarray:
        """``b - b_(i)``, shape (n_rows, n_params): the change of the coefficients on deleting row (or group) i."""
        ...

    @property
    def dfbetas(self) -> np.ndarray:
        """``dfbeta`` in standard errors, shape (n_rows, n_params)."""
        ...

    def dfbeta_as(self, convention: str = "regdiag") -> np.ndarray:
        """``dfbeta`` as ``convention`` defines it.

        Parameters
        ----------
        convention : str
            "regdiag", "R", "statsmodels", ...; a ValueError names the conventions a result has.

        Returns
        -------
        ndarray of shape (n_rows, n_params)
            The changes of the coefficients in that convention's sign and scale.
        """
        ...

    def dfbetas_as(self, convention: str = "regdiag") -> np.ndarray:
        """``dfbetas`` as ``convention`` defines it.

        Parameters
        ----------
        convention : str
            "regdiag", "R", "statsmodels", ...; a ValueError names the conventions a result has.

        Returns
        -------
        ndarray of shape (n_rows, n_params)
            The scaled changes of the coefficients in that convention's scaling.
        """
        ...

    def to_frame(self, style: str = "regdiag") -> pd.DataFrame:
        """The per-row measures as a DataFrame indexed by ``index``, with the column names of ``style``.

        Parameters
        ----------
        style : str
            Column naming: "regdiag", or a peer's names ("R", "statsmodels", ...; each result lists its own).

        Returns
        -------
        pandas.DataFrame
            One row per entry of ``index``.
        """
        ...


@runtime_checkable
class Fit(Protocol):
    """A fitted model, as the rest of the package sees it.

    Attributes
    ----------
    model_kind : ModelKind
        The model class (a class attribute).
    design : object
        The validated data the fit was made from (:class:`regdiag.design.Design`, or the Cox model's
        :class:`regdiag.survival.formula.SurvDesign`); Dask fits hold their blocks instead and give ``None``.
    param_names : tuple of str
    index : pandas.Index
        Row labels of the observations.

    Notes
    -----
    The engine reaches a fit through :func:`regdiag.engine.model.as_model`, which turns it into an engine model
    (per-observation loss gradients, and the curvature hooks the fit's model class supports) by its ``model_kind``.
    """

    model_kind: ClassVar[ModelKind]

    @property
    def param_names(self) -> tuple[str, ...]:
        """Names of the coefficients."""
        ...

    @property
    def index(self) -> pd.Index:
        """Row labels of the observations."""
        ...

    def influence(self, *args: Any, **kwargs: Any) -> InfluenceResult:
        """The influence of every observation on the fit.

        Parameters
        ----------
        *args, **kwargs
            Each model class's options (see its ``influence``).

        Returns
        -------
        InfluenceResult
            The per-observation measures.
        """
        ...


@runtime_checkable
class GroupDeletionFit(Fit, Protocol):
    """A :class:`Fit` whose model class has deletion of whole groups of observations (least squares and GLMs)."""

    def group_deletion(self, groups: Any, **kwargs: Any) -> InfluenceResult:
        """The influence of deleting each group of observations (``groups``: one label per row, or a mapping of
        group names to row labels)."""
        ...


def model_kind(fit: Any) -> ModelKind | None:
    """The :class:`ModelKind` a fit's class declares.

    Parameters
    ----------
    fit : object
        Anything.

    Returns
    -------
    ModelKind or None
        The class attribute ``model_kind`` of ``fit``'s class; None for anything else (None, a statsmodels
        result, ...).
    """
    kind = getattr(type(fit), "model_kind", None)
    return kind if isinstance(kind, ModelKind) else None


def is_glm(fit: Any) -> bool:
    """Whether ``fit`` is a GLM fit (the negative binomial included), in memory or on Dask.

    Parameters
    ----------
    fit : object
        Anything.

    Returns
    -------
    bool
        True when ``fit``'s class declares :attr:`ModelKind.GLM`.
    """
    return model_kind(fit) is ModelKind.GLM
