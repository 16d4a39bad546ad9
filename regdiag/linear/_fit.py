"""What every closed-form fit (OLS/WLS, GLM) shares: names, rank, coefficient table."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .. import _distributions as dist
from .._validation import format_labels
from ..design import DesignLabels

if TYPE_CHECKING:
    from ..design import Design
    from ..linalg import QRFactor

__all__ = ["FitCommon"]


class FitCommon(DesignLabels):
    """Mixin (over :class:`~regdiag.design.DesignLabels`) for fits holding ``design`` (a
    :class:`~regdiag.design.Design`), ``factor`` (a :class:`~regdiag.linalg.QRFactor`) and ``coef``; subclasses give
    ``positive`` (rows with positive weight), ``_cov_scale`` (``sigma^2`` or the dispersion) and
    ``_normal_reference`` (Wald statistics against the normal rather than t with ``df_resid``)."""

    __slots__ = ()

    if TYPE_CHECKING:  # what a subclass provides (fields of its dataclass, or properties)
        design: Design
        factor: QRFactor
        coef: np.ndarray

        @property
        def positive(self) -> np.ndarray: ...

        @property
        def _cov_scale(self) -> float: ...

        @property
        def _normal_reference(self) -> bool: ...

    @property
    def rank(self) -> int:
        """Numerical rank of the (weighted) design: ``p`` in every formula."""
        return self.factor.rank

    @property
    def nobs(self) -> int:
        """Number of observations with positive weight."""
        return int(np.count_nonzero(self.positive))

    @property
    def df_resid(self) -> int:
        """Residual degrees of freedom ``nobs - rank``."""
        return self.nobs - self.rank

    @property
    def aliased(self) -> tuple[str, ...]:
        """Names of the columns that are linear combinations of earlier ones (their coefficients are NaN)."""
        return tuple(self.param_names[j] for j in self.factor.aliased)

    @property
    def cond(self) -> float:
        """Estimated 1-norm condition number of the column-equilibrated (weighted) design."""
        return self.factor.cond

    @property
    def bse(self) -> pd.Series:
        """Standard errors ``sqrt(scale diag((X'WX)^{-1}))`` (scale: ``sigma^2`` or the dispersion)."""
        return pd.Series(
            np.sqrt(self._cov_scale * self.factor.cov_unscaled_diag()), index=list(self.param_names), name="bse"
        )

    @property
    def tvalues(self) -> pd.Series:
        """Wald statistics ``params / bse`` (named z against the normal reference, t otherwise); NaN for a perfect
        fit, whose standard errors are 0."""
        t = (self.params / self.bse).rename("z" if self._normal_reference else "t")
        if getattr(self, "perfect_fit", False):
            t[:] = np.nan
        return t

    @property
    def pvalues(self) -> pd.Series:
        """Two-sided p-values: normal reference, or t with ``df_resid`` degrees of freedom."""
        t = np.abs(self.tvalues.to_numpy())
        p = 2 * dist.norm_sf(t) if self._normal_reference else 2 * dist.t_sf(t, self.df_resid)
        return pd.Series(p, index=list(self.param_names), name="p")

    def cov_params(self) -> pd.DataFrame:
        """Covariance matrix of the coefficients ``scale (X'WX)^{-1}`` (NaN rows/columns for aliased).

        Returns
        -------
        pandas.DataFrame of shape (n_params, n_params)
            Indexed by ``param_names`` both ways.
        """
        names = list(self.param_names)
        return pd.DataFrame(self._cov_scale * self.factor.cov_unscaled(), index=names, columns=names)

    def _summary_head(self, title: str, *notes: str) -> list[str]:
        """The first lines of ``summary()``: ``title`` with the formula, the sizes, ``notes``, the rows dropped for
        missing values and the aliased columns (each of the last two only where there are any)."""
        d = self.design
        lines = [f"{title}: {d.formula}" if d.formula else title,
                 f"n = {self.nobs}, rank = {self.rank}, df_resid = {self.df_resid}", *notes]
        if len(d.dropped):
            lines.append(f"dropped for missing values: {len(d.dropped)} row(s) ({format_labels(d.dropped)})")
        if self.aliased:
            lines.append(f"aliased (not estimable, coefficient NaN): {', '.join(self.aliased)}")
        return lines
