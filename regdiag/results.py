"""Result objects: arrays plus the row index and parameter names.

Results are frozen dataclasses whose arrays are read-only; change one with ``dataclasses.replace``. Per-observation
arrays are in the order of ``index``; per-parameter arrays in the order of ``param_names``. Measures derived by
cheap elementwise arithmetic (``dfbetas``, ``loo_params``, ``dffits_internal``) are properties, so the object holds
one n x p array (``dfbeta``) however many of them are read. Where R, statsmodels or SAS define a measure
differently, a method chooses the definition by argument (``dfbetas_as("R")``, ``to_frame("statsmodels")``).
Every number is read from the object's own fields (``fit`` serves convenience methods only), and this module imports
only the package's base modules: the results satisfy :class:`regdiag.protocols.InfluenceResult`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import pandas as pd

from . import _distributions as dist
from ._validation import Style, as_enum
from .linalg import QRFactor
from .measures import Criterion, select_criteria
from .protocols import Fit, GroupDeletionFit

__all__ = [
    "Influence", "GLMInfluence", "GroupInfluence", "RLMInfluence", "MLEInfluence", "r_abbreviate", "r_dfb_names",
    "flag_frame", "FactorDfbeta", "check_convention",
]

FloatArray = np.ndarray


def standardize_dfbeta(
    dfbeta: FloatArray, row_scale: FloatArray, cov_diag: FloatArray, out: FloatArray | None = None
) -> FloatArray:
    """``dfbeta_ij / (row_scale_i sqrt(cov_diag_j))``; NaN where a row or column scale is 0 or not finite.

    Two passes over the n x p array and at most one new one (``out``): the scales are inverted as vectors.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        r = 1.0 / np.asarray(row_scale, dtype=float)
        c = 1.0 / np.sqrt(np.asarray(cov_diag, dtype=float))
    r[np.isnan(r) | np.isinf(r)] = np.nan
    c[np.isnan(c) | np.isinf(c)] = np.nan
    out = np.multiply(dfbeta, r[:, None], out=out)
    out *= c[None, :]
    return out


def _freeze(obj: Any) -> None:
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if isinstance(v, np.ndarray):
            v.flags.writeable = False


@dataclass(frozen=True, eq=False, slots=True)
class FactorDfbeta:
    """DFBETA kept as the fit's QR factor and one number per row, from which the n x p array is computed when read.

    ``b - b_(i) = (X'WX)^{-1} x_i sqrt(w_i) c_i`` with ``c_i`` = ``row_factor[i]`` (the weighted residual over
    ``1 - h_i`` for least squares): an influence object holding this holds no n x p array of its own (the factor
    is the fit's).

    Attributes
    ----------
    factor : regdiag.linalg.QRFactor
        The fit's factorization.
    row_factor : ndarray of shape (n_obs,)
        ``c_i`` above; NaN for rows whose deletion is undefined.
    """

    factor: QRFactor
    row_factor: FloatArray

    def __post_init__(self) -> None:
        _freeze(self)

    def compute(self) -> FloatArray:
        """The n x p array ``b - b_(i)`` (a new array on each call).

        Returns
        -------
        ndarray of shape (n_obs, n_params)
            ``b - b_(i)``, one row per observation.
        """
        return self.factor.coef_rows(self.row_factor)


# ---------------------------------------------------------------------------------------------------------------
# R's abbreviate(), for influence.measures' column names


def _abbrev_one(name: str, minlength: int) -> str:
    """R's C-level ``stripchars`` (abbreviate with use.classes = TRUE) for one ASCII string."""
    buf = list(name.strip())
    if len(buf) < minlength:
        return "".join(buf)
    upper = len(buf) - 1

    def at(i: int) -> str:
        return buf[i] if 0 <= i < len(buf) else "\0"

    def first_char(i: int) -> bool:  # start of a word
        return at(i - 1).isspace()

    def last_char(i: int) -> bool:  # end of a word
        return not at(i - 1).isspace() and (at(i + 1) == "\0" or at(i + 1).isspace())

    def lc_vowel(i: int) -> bool:
        return at(i) in "aeiou"

    def is_lower(i: int) -> bool:
        c = at(i)
        return "a" <= c <= "z"

    nspace = 0
    trailing = True
    for i in range(upper, 0, -1):
        if at(i).isspace():
            if trailing:
                del buf[i:]
            else:
                nspace += 1
        else:
            trailing = False
        if len(buf) - nspace <= minlength:
            return _drop_spaces(buf, minlength)

    def sweep(pred) -> bool:
        for i in range(upper, 0, -1):
            if i < len(buf) and pred(i):
                del buf[i]
            if len(buf) - nspace <= minlength:
                return True
        return False

    if (
        sweep(lambda i: lc_vowel(i) and last_char(i))
        or sweep(lambda i: lc_vowel(i) and not first_char(i))
        or sweep(lambda i: is_lower(i) and last_char(i))
        or sweep(lambda i: is_lower(i) and not first_char(i))
    ):
        return _drop_spaces(buf, minlength)
    upper = len(buf) - 1
    for i in range(upper, 0, -1):
        if i < len(buf) and not first_char(i) and not at(i).isspace():
            del buf[i]
        if len(buf) - nspace <= minlength:
            break
    return _drop_spaces(buf, minlength)


def _drop_spaces(buf: list[str], minlength: int) -> str:
    if len(buf) > minlength:
        buf = [buf[0]] + [c for c in buf[1:] if not c.isspace()]
    return "".join(buf)


def r_abbreviate(names: Sequence[str], minlength: int = 4) -> list[str]:
    """R's ``abbreviate(names, minlength)`` (method "left.kept"): lengthen until the abbreviations are unique."""
    names = [n.strip() for n in names]
    uniq = list(dict.fromkeys(names))
    out = [_abbrev_one(n, minlength) for n in uniq]
    ml = minlength
    redo = [False] * len(uniq)
    while True:
        seen: dict[str, int] = {}
        dup = [False] * len(out)
        for i, a in enumerate(out):
            if a in seen:
                dup[i] = True
            else:
                seen[a] = i
        if not any(dup):
            break
        ml += 1
        dupvals = {out[i] for i in range(len(out)) if dup[i]}
        redo = [redo[i] or dup[i] or out[i] in dupvals for i in range(len(out))]
        for i in range(len(out)):
            if redo[i]:
                out[i] = _abbrev_one(uniq[i], ml)
    lookup = dict(zip(uniq, out))
    return [lookup[n] for n in names]


INTERCEPT_NAMES = ("Intercept", "(Intercept)", "const")
_TREATMENT = re.compile(r"^(.*)\[T\.(.*)\]$")


def r_term_name(name: str) -> str:
    """R's name for a model-matrix column: formulaic's treatment-coded ``sex[T.M]`` is R's ``sexM``.

    Each factor of an interaction (``a[T.x]:b``) is renamed alone; other names are left as they are.
    """
    parts = []
    for part in name.split(":"):
        m = _TREATMENT.match(part)
        parts.append(m.group(1) + m.group(2) if m else part)
    return ":".join(parts)


def r_dfb_names(names: Sequence[str]) -> list[str]:
    """R's ``influence.measures`` DFBETAS column names (``dfb.1_``, ``dfb.<abbreviated term>``) for ``names``."""
    vn = ["1_" if nm in INTERCEPT_NAMES else r_term_name(nm) for nm in names]
    return ["dfb." + a for a in r_abbreviate(vn)]


#: R's column name of each one-column measure, for flags with rule "R"
_R_FLAG_COLUMNS = {"dffits": "dffit", "cov_ratio": "cov.r", "cooks_distance": "cook.d", "leverage": "hat"}


def _joined_names(hits: np.ndarray, names: Sequence[str]) -> list[str]:
    """For each row of the boolean matrix ``hits`` (shape (n_rows, n_names)), the ``names`` of its true columns
    joined by ``", "``, in column order.

    Rows with the same pattern share one string: the work is one pass over the matrix plus one join per distinct
    pattern (a handful in practice), not a Python loop over cells.
    """
    hits = np.asarray(hits, dtype=bool)
    if hits.shape[0] == 0:
        return []
    patterns, inverse = np.unique(hits, axis=0, return_inverse=True)
    texts = [", ".join(nm for nm, on in zip(names, row) if on) for row in patterns]
    return [texts[k] for k in np.asarray(inverse).ravel()]


def flag_frame(
    criteria: Sequence[Criterion],
    values: Any,
    coef_names: Sequence[str],
    p: int,
    n: int,
    index: pd.Index,
    r_style: bool,
) -> pd.DataFrame:
    """One nullable boolean column per criterion (per coefficient for DFBETAS), NA where the measure is NaN.

    ``values(measure)`` gives the values a criterion tests (2-d for DFBETAS, one column per ``coef_names``). Columns
    are named by criterion (``<measure>_<coefficient>`` for DFBETAS), or with ``r_style`` as R's ``is.inf``.
    ``.attrs["criteria"]`` describes each cut-off.
    """
    data: dict[str, pd.arrays.BooleanArray] = {}
    described: dict[str, str] = {}
    for c in criteria:
        v_all = values(c.measure)
        if v_all.ndim == 2:
            labels = r_dfb_names(coef_names) if r_style else [f"{c.measure}_{nm}" for nm in coef_names]
            cols = [(lab, v_all[:, i]) for i, lab in enumerate(labels)]
        else:
            cols = [(_R_FLAG_COLUMNS[c.measure] if r_style else c.name, v_all)]
        for lab, v in cols:
            arr = pd.array(c.apply(v, p, n), dtype="boolean")
            arr[np.isnan(v)] = pd.NA
            key = lab if lab not in data else f"{lab}:{c.name}"
            data[key] = arr
            described[key] = c.text
    frame = pd.DataFrame(data, index=index)
    frame.attrs["criteria"] = described
    return frame


def check_convention(convention: str, measure: str, allowed: Sequence[Style] = tuple(Style)) -> Style:
    """The :class:`~regdiag._validation.Style` named by ``convention``, which must be one of ``allowed`` for
    ``measure``; a ValueError naming the conventions otherwise."""
    st = as_enum(Style, convention, "convention")
    if st not in allowed:
        raise ValueError(
            f"convention={convention!r}: {measure} is defined under the conventions "
            f"{', '.join(repr(a.value) for a in allowed)}"
        )
    return st


# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False, kw_only=True, slots=True)
class Influence:
    """Influence measures of every observation of a fitted model.

    Attributes
    ----------
    leverage : ndarray of shape (n_obs,)
        Diagonal of the (weighted) hat matrix; 1 where clamped as R does; 0 for zero weights.
    resid : ndarray of shape (n_obs,)
        Response residuals ``y - fitted``.
    standard_resid : ndarray of shape (n_obs,)
        Internally studentized residuals (R ``rstandard``).
    student_resid : ndarray of shape (n_obs,)
        Externally studentized residuals (R ``rstudent``).
    press_resid : ndarray of shape (n_obs,)
        Deleted (PRESS) residuals ``y_i - x_i' b_(i) = resid_i / (1 - h_i)``.
    sigma_loo : ndarray of shape (n_obs,)
        Residual standard error with observation i deleted.
    cooks_distance, cooks_pvalue, dffits, cov_ratio : ndarray of shape (n_obs,)
    dfbeta_data : ndarray of shape (n_obs, n_params) or FactorDfbeta
        What :attr:`dfbeta` reads: the array, or for OLS/WLS a :class:`FactorDfbeta` from which it is computed on
        each access (O(n p^2), one new n x p array): the influence object then holds no n x p array, and
        ``dfbetas`` and ``loo_params`` are computed in that array's place. Keep the result in a variable rather than
        reading :attr:`dfbeta` in a loop.
    params : ndarray of shape (n_params,)
    cov_unscaled_diag : ndarray of shape (n_params,)
        Diagonal of ``(X'WX)^{-1}`` (NaN for aliased coefficients).
    sigma : float
    rank : int
    df_resid : float
    n_obs : int
        Observations with positive weight (R's ``n`` in ``is.inf``).
    weights : ndarray or None
    index : pandas.Index
    param_names : tuple of str
    aliased : tuple of str
    method : str
        How the measures were computed ("ols", "wls", "glm-one-step", "glm-exact", "engine:...").
    fit : Fit or None
        The fit the measures came from, for convenience methods such as :meth:`group_deletion`; no number of this
        object is read from it.
    """

    leverage: FloatArray
    resid: FloatArray
    standard_resid: FloatArray
    student_resid: FloatArray
    press_resid: FloatArray
    sigma_loo: FloatArray
    cooks_distance: FloatArray
    cooks_pvalue: FloatArray
    dffits: FloatArray
    cov_ratio: FloatArray
    dfbeta_data: FloatArray | FactorDfbeta
    params: FloatArray
    cov_unscaled_diag: FloatArray
    sigma: float
    rank: int
    df_resid: float
    n_obs: int
    weights: FloatArray | None
    index: pd.Index
    param_names: tuple[str, ...]
    aliased: tuple[str, ...] = ()
    method: str = "ols"
    fit: Fit | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        _freeze(self)

    @property
    def dfbeta_is_lazy(self) -> bool:
        """True when ``dfbeta`` is computed on access (OLS/WLS) rather than stored."""
        return isinstance(self.dfbeta_data, FactorDfbeta)

    @property
    def dfbeta(self) -> FloatArray:
        """``b - b_(i)``, shape (n_obs, n_params): the stored array, or a new one computed from the factor."""
        d = self.dfbeta_data
        return d.compute() if isinstance(d, FactorDfbeta) else d

    # ---- derived measures -----------------------------------------------------------------------------------
    @property
    def dfbetas(self) -> FloatArray:
        """DFBETAS: ``dfbeta_ij / (s_(i) sqrt([(X'WX)^{-1}]_jj))``, shape (n_obs, n_params)."""
        lazy = self.dfbeta_is_lazy
        d = self.dfbeta
        return standardize_dfbeta(d, self.sigma_loo, self.cov_unscaled_diag, out=d if lazy else None)

    @property
    def loo_params(self) -> FloatArray:
        """Leave-one-out coefficients ``b_(i) = b - dfbeta_i``, shape (n_obs, n_params): exact for OLS/WLS and for
        GLMs with ``loo="exact"``; for a GLM's one-step influence (the default) the one-step estimate of ``b_(i)``."""
        if self.dfbeta_is_lazy:
            d = self.dfbeta
            return np.subtract(self.params[None, :], d, out=d)
        return self.params[None, :] - self.dfbeta

    @property
    def dffits_internal(self) -> FloatArray:
        """DFFITS with the internally studentized residual (statsmodels' ``dffits_internal``)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            out = self.standard_resid * np.sqrt(self.leverage / (1.0 - self.leverage))
        out[~(self.leverage < 1)] = np.nan
        return out

    @property
    def n_params(self) -> int:
        """Number of coefficients, aliased ones included (the length of ``param_names``)."""
        return len(self.param_names)

    # ---- conventions: another system's definition of a measure, chosen by argument ------------------------------
    def dfbeta_as(self, convention: str = "regdiag") -> FloatArray:
        """``b - b_(i)`` as ``convention`` defines it, shape (n_obs, n_params).

        Parameters
        ----------
        convention : {"regdiag", "R", "statsmodels"}
            For least squares, robust and discrete models every convention's is :attr:`dfbeta`; a GLM's differ
            (see :meth:`GLMInfluence.dfbeta_as`).

        Returns
        -------
        ndarray of shape (n_obs, n_params)
        """
        self._convention(convention, "dfbeta", allowed=(Style.REGDIAG, Style.R, Style.STATSMODELS))
        return self.dfbeta

    def dfbetas_as(self, convention: str = "regdiag") -> FloatArray:
        """DFBETAS as ``convention`` defines it, shape (n_obs, n_params).

        Parameters
        ----------
        convention : {"regdiag", "R", "statsmodels", "SAS"}
            For least squares, robust and discrete models every convention's is :attr:`dfbetas`; a GLM's differ
            (see :meth:`GLMInfluence.dfbetas_as`).

        Returns
        -------
        ndarray of shape (n_obs, n_params)
        """
        self._convention(convention, "dfbetas")
        return self.dfbetas

    def cooks_distance_as(self, convention: str = "regdiag") -> FloatArray:
        """Cook's distance as ``convention`` defines it, shape (n_obs,).

        Parameters
        ----------
        convention : {"regdiag", "R", "statsmodels"}
            For least squares, robust and discrete models every convention's is :attr:`cooks_distance`; a GLM's
            differ when ``cooks_distance`` is the exact one (see :meth:`GLMInfluence.cooks_distance_as`).

        Returns
        -------
        ndarray of shape (n_obs,)
        """
        self._convention(convention, "cooks_distance", allowed=(Style.REGDIAG, Style.R, Style.STATSMODELS))
        return self.cooks_distance

    @staticmethod
    def _convention(convention: str, measure: str, allowed: Sequence[Style] = tuple(Style)) -> Style:
        return check_convention(convention, measure, allowed)

    def kept_columns(self) -> list[int]:
        """Positions of the coefficients that are not aliased (the columns R's tables have).

        Returns
        -------
        list of int
            Indices into ``param_names``.
        """
        return [j for j, name in enumerate(self.param_names) if name not in self.aliased]

    # ---- frames -------------------------------------------------------------------------------------------------
    def r_dfbeta_names(self) -> list[str]:
        """R's ``influence.measures`` column names of the DFBETAS of :meth:`kept_columns` (``dfb.1_``, ...).

        Returns
        -------
        list of str
            One name per kept coefficient.
        """
        return r_dfb_names([self.param_names[j] for j in self.kept_columns()])

    def _regdiag_columns(self) -> dict[str, FloatArray]:
        cols: dict[str, FloatArray] = {
            "leverage": self.leverage,
            "resid": self.resid,
            "standard_resid": self.standard_resid,
            "student_resid": self.student_resid,
            "press_resid": self.press_resid,
            "sigma_loo": self.sigma_loo,
            "cooks_distance": self.cooks_distance,
            "cooks_pvalue": self.cooks_pvalue,
            "dffits": self.dffits,
            "cov_ratio": self.cov_ratio,
        }
        return cols

    def to_frame(self, style: str = "regdiag") -> pd.DataFrame:
        """All per-observation measures as a DataFrame indexed like the input rows.

        Parameters
        ----------
        style : {"regdiag", "R", "statsmodels"}
            "regdiag": regdiag's names, then ``dfbeta_<name>`` and ``dfbetas_<name>`` per coefficient.
            "R": exactly the columns of R's ``influence.measures`` (``dfb.<abbreviated name>``, ``dffit``,
            ``cov.r``, ``cook.d``, ``hat``). "statsmodels": exactly the columns of statsmodels'
            ``OLSInfluence.summary_frame()`` (``dfb_<name>``, ``cooks_d``, ``standard_resid``, ``hat_diag``,
            ``dffits_internal``, ``student_resid``, ``dffits``). Aliased coefficients get no column, except in
            style "statsmodels", which has a (NaN) column for every coefficient as statsmodels does.

        Returns
        -------
        pandas.DataFrame
        """
        st = as_enum(Style, style, "style")
        kept = self.kept_columns()
        if st is Style.R:
            dfbs = self.dfbetas[:, kept]
            data = {n: dfbs[:, i] for i, n in enumerate(self.r_dfbeta_names())}
            data.update(dffit=self.dffits, **{"cov.r": self.cov_ratio, "cook.d": self.cooks_distance},
                        hat=self.leverage)
            return pd.DataFrame(data, index=self.index)
        if st is Style.STATSMODELS:
            # every coefficient, as statsmodels (which fits rank-deficient designs by pseudo-inverse); NaN for the
            # aliased ones, whose coefficient is not estimable
            dfbs = self.dfbetas
            data = {f"dfb_{n}": dfbs[:, j] for j, n in enumerate(self.param_names)}
            data.update(
                cooks_d=self.cooks_distance,
                standard_resid=self.standard_resid,
                hat_diag=self.leverage,
                dffits_internal=self.dffits_internal,
                student_resid=self.student_resid,
                dffits=self.dffits,
            )
            return pd.DataFrame(data, index=self.index)
        if st is Style.SAS:
            return self._sas_frame()
        data = dict(self._regdiag_columns())
        dfb, dfbs = self.dfbeta, self.dfbetas
        for j in kept:
            data[f"dfbeta_{self.param_names[j]}"] = dfb[:, j]
        for j in kept:
            data[f"dfbetas_{self.param_names[j]}"] = dfbs[:, j]
        return pd.DataFrame(data, index=self.index)

    def _sas_frame(self) -> pd.DataFrame:
        kept = self.kept_columns()
        dfbs = self.dfbetas[:, kept]
        data: dict[str, FloatArray] = {
            "H": self.leverage,
            "RStudent": self.student_resid,
            "CookD": self.cooks_distance,
            "DFFITS": self.dffits,
            "CovRatio": self.cov_ratio,
            "PRESS": self.press_resid,
        }
        for i, j in enumerate(kept):
            nm = "Intercept" if self.param_names[j] in INTERCEPT_NAMES else self.param_names[j]
            data[f"DFB_{nm}"] = dfbs[:, i]
        return pd.DataFrame(data, index=self.index)

    # ---- flags ----------------------------------------------------------------------------------------------------
    def _criteria(self, rule: str | Sequence[str]) -> list[Criterion]:
        return select_criteria(rule)

    def flags(self, rule: str | Sequence[str] = "R", *, n: int | None = None) -> pd.DataFrame:
        """Which observations each criterion flags as influential (nullable booleans; NA where undefined).

        Parameters
        ----------
        rule : str or sequence of str
            A named rule — "R" (R's ``influence.measures()$is.inf``: ``|DFBETAS| > 1``,
            ``|DFFITS| > 3 sqrt(p/(n-p))``, ``|1 - COVRATIO| > 3p/(n-p)``, F percentile of Cook's D > 0.5,
            leverage > 3p/n), "BKW" (Belsley, Kuh & Welsch: ``|DFBETAS| > 2/sqrt(n)``, ``|DFFITS| > 2 sqrt(p/n)``,
            ``|1 - COVRATIO| > 3p/n``, leverage > 2p/n), "common" (Cook's D > 4/n, leverage > 2p/n,
            ``|studentized residual| > 2``) — or criterion names from
            ``regdiag.measures.CRITERIA`` such as "cooks_4n", "leverage_2p", "dfbetas_2sqrtn".
            ``p`` is the rank and ``n`` the number of observations with positive weight (for "R", as R does, the
            number with positive leverage: a row with ``h = 0``, such as ``x = 0`` without an intercept, does not
            count).
        n : int, optional
            The ``n`` of the cut-offs, for results that hold only some rows of a fit (a block of a Dask fit): the
            whole fit's count, as above.

        Returns
        -------
        pandas.DataFrame
            One column per criterion (per coefficient for DFBETAS). With ``rule="R"`` the columns are exactly R's
            (``dfb.*``, ``dffit``, ``cov.r``, ``cook.d``, ``hat``). ``.attrs["criteria"]`` describes each cut-off.
        """
        crits = self._criteria(rule)
        p = self.rank
        kept = self.kept_columns()
        is_r = isinstance(rule, str) and rule == "R"
        if n is not None:
            n = int(n)
        elif is_r:  # R: is.influential(infmat, sum(h > 0)) -- rows with leverage exactly 0 do not count
            n = int(np.count_nonzero(np.asarray(self.leverage, dtype=float) > 0))
        else:
            n = self.n_obs

        def values(measure: str) -> FloatArray:
            v = self._flag_values(measure, is_r)
            return v[:, kept] if v.ndim == 2 else v

        return flag_frame(crits, values, [self.param_names[j] for j in kept], p, n, self.index, is_r)

    def _flag_values(self, measure: str, is_r: bool) -> FloatArray:
        """The values a criterion tests (a subclass may substitute R's definition when ``rule="R"``)."""
        return getattr(self, measure)

    def flagged(self, rule: str | Sequence[str] = "R", *, n: int | None = None) -> pd.DataFrame:
        """The observations flagged by ``rule``, with their main measures and the criteria that flagged each.

        Parameters
        ----------
        rule : str or sequence of str
            A named rule or criterion names, as in :meth:`flags`.
        n : int, optional
            The ``n`` of the cut-offs, as in :meth:`flags`.

        Returns
        -------
        pandas.DataFrame
            One row per flagged observation: ``leverage``, ``student_resid``, ``cooks_distance``, ``dffits``,
            ``cov_ratio`` and ``flagged_by`` (the criteria that flagged it, comma-separated);
            ``.attrs["criteria"]`` describes each cut-off.
        """
        fl = self.flags(rule, n=n)
        hit = fl.fillna(False).astype(bool)
        mask = hit.any(axis=1).to_numpy()
        base = pd.DataFrame(
            {
                "leverage": self.leverage,
                "student_resid": self.student_resid,
                "cooks_distance": self.cooks_distance,
                "dffits": self.dffits,
                "cov_ratio": self.cov_ratio,
            },
            index=self.index,
        )
        out = base.loc[mask].copy()
        out["flagged_by"] = _joined_names(hit.to_numpy()[mask], [str(c) for c in fl.columns])
        out.attrs["criteria"] = fl.attrs["criteria"]
        return out

    # ---- outlier test ---------------------------------------------------------------------------------------------
    def _outlier_reference(self, style: Style) -> float | None:
        """Degrees of freedom of the t reference distribution of ``outlier_test``; None for the standard normal."""
        return float(self.df_resid - 1)

    def outlier_test(
        self, method: str = "bonferroni", cutoff: float | None = 0.05, n_max: int | None = 10, style: str = "regdiag"
    ) -> pd.DataFrame:
        """Test each studentized residual as a mean-shift outlier, like car's ``outlierTest``.

        Parameters
        ----------
        method : str
            Multiple-testing adjustment: "bonferroni" (car: ``min(1, n p)``) or any method of
            ``statsmodels.stats.multitest.multipletests`` ("holm", "fdr_bh", ...).
        cutoff : float or None
            Keep rows whose adjusted p-value is below ``cutoff``; if none is, keep the single largest residual
            (as car does). ``None`` keeps every row.
        n_max : int or None
            At most this many rows.
        style : {"regdiag", "R"}
            The reference distribution: t with ``df_resid - 1`` degrees of freedom for linear models and the
            standard normal for GLMs; ``"R"`` follows car's ``outlierTest`` exactly, which also uses t(``df_resid -
            1``) for a negative binomial with theta estimated (class ``negbin`` in R; car chooses the normal only for
            class ``glm``).

        Returns
        -------
        pandas.DataFrame
            Columns ``student_resid``, ``unadjusted_p`` and ``<method>_p``, sorted by decreasing
            ``|student_resid|``; ``.attrs`` records the reference distribution.
        """
        t = self.student_resid
        ok = np.isfinite(t)
        t_ok = t[ok]
        labels = self.index[ok]
        df = self._outlier_reference(as_enum(Style, style, "style"))
        if df is not None:
            pvals = 2.0 * dist.t_sf(np.abs(t_ok), df)
        else:
            pvals = 2.0 * dist.norm_sf(np.abs(t_ok))
        n = t_ok.size
        if method == "bonferroni":
            adj = np.minimum(1.0, n * pvals)
        else:
            from statsmodels.stats.multitest import multipletests

            adj = multipletests(pvals, method=method)[1]
        frame = pd.DataFrame({"student_resid": t_ok, "unadjusted_p": pvals, f"{method}_p": adj}, index=labels)
        order = np.argsort(-np.abs(t_ok), kind="stable")
        frame = frame.iloc[order]
        if cutoff is not None:
            keep = frame[f"{method}_p"] < cutoff
            frame = frame.loc[keep] if keep.any() else frame.iloc[:1]
        if n_max is not None:
            frame = frame.iloc[:n_max]
        frame.attrs.update(reference="normal" if df is None else f"t({df:g})", method=method, n_tests=n)
        return frame

    # ---- group deletion --------------------------------------------------------------------------------------------
    def group_deletion(self, groups: Any) -> GroupInfluence:
        """Exact effect of deleting whole groups of observations; see :func:`regdiag.linear.deletion.group_deletion`.

        Parameters
        ----------
        groups : array_like, mapping or sequence of sequences
            One group label per row (a Series is aligned on the row labels), ``{group: [row labels]}``, or a list
            of lists of row labels.

        Returns
        -------
        GroupInfluence
            One row per group.
        """
        return cast(GroupInfluence, self._group_fit().group_deletion(groups))

    def _group_fit(self) -> GroupDeletionFit:
        """The fit, for group deletion (which needs its factorization)."""
        if self.fit is None:
            raise ValueError("this influence object has no fit attached; group deletion needs the factorization")
        if not isinstance(self.fit, GroupDeletionFit):
            raise ValueError(f"group deletion is not defined for a {type(self.fit).__name__}")
        return self.fit

    def summary(self, rule: str = "R") -> str:
        """A short text: method, n, rank, and the flagged observations.

        Parameters
        ----------
        rule : str
            The rule that flags observations, as in :meth:`flags`.

        Returns
        -------
        str
            Several lines: a header, the count flagged and the table of :meth:`flagged`.
        """
        fl = self.flagged(rule)
        lines = [
            f"Influence ({self.method}): n = {self.n_obs}, rank = {self.rank}, sigma = {self.sigma:.6g}",
            f"{len(fl)} observation(s) flagged by rule {rule!r}",
        ]
        if len(fl):
            lines.append(fl.to_string(float_format=lambda v: f"{v:.4g}"))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} method={self.method!r} n_obs={self.n_obs} rank={self.rank} "
            f"params={list(self.param_names)}>"
        )


@dataclass(frozen=True, eq=False, kw_only=True, slots=True)
class GLMInfluence(Influence):
    """Influence measures of a generalized linear model (see :meth:`regdiag.linear.glm.GLMFit.influence`).

    The fields of :class:`Influence` keep R's meaning for ``glm`` objects (``influence.measures``): ``leverage`` is
    the diagonal of the weighted hat matrix ``W^(1/2) X (X'WX)^{-1} X' W^(1/2)`` at convergence; ``resid`` the
    response residual ``y - mu``; ``standard_resid`` the standardized deviance residual (R's ``rstandard``);
    ``student_resid`` the likelihood residual (R's ``rstudent.glm``); ``sigma_loo`` R's deletion sigma from the
    deviance residuals; ``sigma`` is ``sqrt(deviance / df_resid)``; ``dffits`` and ``cov_ratio`` are R's ``dffit``
    and ``cov.r``; ``cooks_distance`` is R's ``cooks.distance.glm`` (one-step, Pearson residuals, dispersion) or,
    with exact leave-one-out, ``(b - b_(i))' X'WX (b - b_(i)) / (p phi)``; ``press_resid`` is the deleted response
    residual ``y_i - mu_(i)(x_i)`` from the leave-one-out coefficients; ``dfbeta`` is ``b - b_(i)``: the one-step
    estimate with Pearson residuals (statsmodels' ``d_params``, the default), with deviance residuals (R's
    ``dfbeta.glm``, ``residual="deviance"``), or exact; ``loo_params`` is ``b - dfbeta`` (so the one-step estimate
    of ``b_(i)`` unless ``loo="exact"``).

    ``dfbetas`` is ``dfbeta_ij / (sqrt(phi_(i)) sqrt([(X'WX)^{-1}]_jj))``: the change in units of the coefficient's
    standard error, with the dispersion ``phi_(i)`` of the fit without observation i (``dispersion_loo``): the
    dispersion itself where it is fixed (1 for binomial and Poisson, or the value given to the fit), otherwise
    Pearson's chi-square without the observation over ``n - p - 1``. For binomial and Poisson models it is
    statsmodels' ``dfbetas`` and SAS's ``DFBETAS`` (for an increasing link). With ``residual="deviance"`` it is
    R's ``dfbetas`` for ``glm``: R's deviance-residual change over ``sigma_(i) sqrt([(X'WX)^{-1}]_jj)`` with R's
    deletion sigma from the deviance residuals (``sigma_loo``; R uses it for every family). ``dfbetas_as("R")`` is
    always R's, and ``flags(rule="R")`` tests it, as R's ``is.inf``.

    Attributes
    ----------
    resid_working, resid_pearson, resid_deviance : ndarray of shape (n_obs,)
        R's ``residuals(fit, type=...)`` (Pearson and deviance residuals include the prior weights).
    standard_resid_pearson : ndarray of shape (n_obs,)
        Standardized Pearson residual ``r_P / sqrt(phi (1 - h))`` (R's ``rstandard(type="pearson")``).
    dispersion : float
        ``phi``: 1 for binomial and Poisson, else Pearson's chi-square over ``df_resid`` (unless set on the fit).
    family, link : str
    residual : {"pearson", "deviance"}
        Residual of the one-step ``dfbeta``.
    observed : bool
        Whether the leverage and the one-step changes use the observed information (they coincide with the expected
        information for canonical links).
    dfbeta_one_step : ndarray of shape (n_obs, n_params) or None
        The one-step, Pearson-residual ``dfbeta`` when ``dfbeta`` is something else (exact, or deviance-based).
    cooks_distance_one_step : ndarray of shape (n_obs,) or None
        R's one-step Cook's distance when ``cooks_distance`` is the exact one.
    loo_iterations : ndarray of shape (n_obs,) or None
        Exact leave-one-out only: Newton steps taken for each observation (the one-step estimate is the first).
    loo_tol : float or None
        Exact leave-one-out only: bound on the error left in every coefficient, in its standard errors.
    separated : tuple
        Row labels separated in a binomial model without maximum-likelihood estimate, or whose fitted means tend to 0
        in a count model whose estimate is on the boundary (empty normally); when not empty every deletion measure
        is NaN.
    link_sign : float
        Sign of ``dmu/deta``: -1 for the decreasing links (inverse, 1/mu^2), else 1. The one-step change uses the
        weighted working residual ``W^(1/2) z = link_sign * r_P``; R's ``dfbeta.glm`` and statsmodels drop the sign.
    dispersion_loo : ndarray of shape (n_obs,) or None
        ``phi_(i)`` of ``dfbetas`` (see above): one-step ``(X^2 - r_P,i^2 / (1 - h_i)) / (n - p - 1)`` with
        Pearson's chi-square ``X^2``, or, with exact leave-one-out, Pearson's chi-square of the exact fit without
        observation i over ``n - p - 1``. When None it is computed from the other fields (one-step).
    dispersion_fixed : bool
        The dispersion was given to the fit (not estimated), so ``phi_(i) = phi``.
    theta_estimated : bool
        A negative binomial fit whose theta was estimated (R's class ``negbin``: car's ``outlierTest`` then refers
        the likelihood residuals to t rather than the normal).
    """

    resid_working: FloatArray
    resid_pearson: FloatArray
    resid_deviance: FloatArray
    standard_resid_pearson: FloatArray
    dispersion: float
    family: str
    link: str
    residual: str = "pearson"
    observed: bool = False
    dfbeta_one_step: FloatArray | None = None
    cooks_distance_one_step: FloatArray | None = None
    loo_iterations: np.ndarray | None = None
    loo_tol: float | None = None
    separated: tuple = ()
    link_sign: float = 1.0
    dispersion_loo: FloatArray | None = None
    dispersion_fixed: bool = False
    theta_estimated: bool = False

    # ---- derived measures --------------------------------------------------------------------------------------
    @property
    def reliable(self) -> bool:
        """False when the maximum-likelihood estimate is infinite (a separated binomial model, or a count model whose
        estimate is on the boundary)."""
        return not self.separated

    @property
    def dfbetas(self) -> FloatArray:
        """DFBETAS ``dfbeta_ij / (sqrt(phi_(i)) sqrt([(X'WX)^{-1}]_jj))`` with the leave-one-out dispersion
        ``phi_(i)`` (1 for binomial and Poisson); with ``residual="deviance"``, R's ``dfbetas`` (over R's deletion
        sigma ``sigma_loo``). See the class docstring."""
        if self.residual == "deviance":
            return standardize_dfbeta(self.dfbeta, self.sigma_loo, self.cov_unscaled_diag)
        with np.errstate(invalid="ignore"):
            scale = np.sqrt(self._phi_loo())
        return standardize_dfbeta(self.dfbeta, scale, self.cov_unscaled_diag)

    def _phi_loo(self) -> FloatArray:
        """``dispersion_loo``, or the one-step value from the other fields when it was not stored."""
        if self.dispersion_loo is not None:
            return self.dispersion_loo
        n = len(self.leverage)
        if self.family in ("binomial", "poisson") or self.dispersion_fixed:
            return np.full(n, float(self.dispersion))
        h = self.leverage
        with np.errstate(divide="ignore", invalid="ignore"):
            out = (self.dispersion * self.df_resid - self.resid_pearson**2 / (1.0 - h)) / (self.df_resid - 1.0)
        out[~(h < 1) | ~(out > 0) | np.isnan(self._cooks_distance_one_step())] = np.nan
        return out

    @property
    def dffits_internal(self) -> FloatArray:
        """Change in the fitted mean over its standard error, one-step (statsmodels' ``d_fittedvalues_scaled``).

        ``r_P sqrt(h) / (sqrt(phi) (1 - h))``: the standardized Pearson residual times ``sqrt(h / (1 - h))``.
        """
        with np.errstate(invalid="ignore", divide="ignore"):
            out = self.standard_resid_pearson * np.sqrt(self.leverage / (1.0 - self.leverage))
        out[~(self.leverage < 1)] = np.nan
        return out

    def _ratio(self) -> FloatArray:
        """R's residual over the one-step's, ``d / (link_sign r_P)``, row by row (0 where both are 0)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            r = self.resid_deviance / (self.link_sign * self.resid_pearson)
        r[self.resid_pearson == 0] = 0.0
        return r

    def _dfbeta_pearson_one_step(self) -> FloatArray:
        """One-step (Fisher-scoring) change ``(X'WX)^{-1} x_i W_i z_i / (1 - h_i)`` (this object's information)."""
        return self.dfbeta if self.dfbeta_one_step is None else self.dfbeta_one_step

    def dfbeta_as(self, convention: str = "regdiag") -> FloatArray:
        """``b - b_(i)`` as ``convention`` defines it, shape (n_obs, n_params).

        Parameters
        ----------
        convention : {"regdiag", "R", "statsmodels"}
            "regdiag": :attr:`dfbeta` (one-step with Pearson residuals, with deviance residuals, or exact, as the
            object was made). "R": R's ``dfbeta.glm``, ``(X'WX)^{-1} x_i W_i^(1/2) d_i / (1 - h_i)`` with deviance
            residuals ``d``. "statsmodels": the one-step (Fisher-scoring) change with Pearson residuals
            ``(X'WX)^{-1} x_i W_i z_i / (1 - h_i)`` (statsmodels' ``d_params``, with this object's information).

        Returns
        -------
        ndarray of shape (n_obs, n_params)
        """
        st = self._convention(convention, "dfbeta", allowed=(Style.REGDIAG, Style.R, Style.STATSMODELS))
        if st is Style.R:
            if self.residual == "deviance" and self.method == "glm-one-step":
                return self.dfbeta
            return self._dfbeta_pearson_one_step() * self._ratio()[:, None]
        if st is Style.STATSMODELS:
            return self._dfbeta_pearson_one_step()
        return self.dfbeta

    def dfbetas_as(self, convention: str = "regdiag") -> FloatArray:
        """DFBETAS as ``convention`` defines it, shape (n_obs, n_params).

        Parameters
        ----------
        convention : {"regdiag", "R", "statsmodels", "SAS"}
            "regdiag": :attr:`dfbetas`. "R": R's ``dfbetas`` for glm, ``dfbeta_as("R") / (sigma_(i)
            sqrt(diag((X'WX)^{-1})))`` (what ``flags(rule="R")`` tests, as R's ``is.inf``). "statsmodels" and
            "SAS": the one-step Pearson change over the full fit's standard errors ``sqrt(phi diag((X'WX)^{-1}))``
            (statsmodels' ``GLMInfluence.dfbetas`` for dispersion 1 and an increasing link -- statsmodels drops the
            sign of ``dmu/deta`` -- and SAS PROC LOGISTIC's ``DFBETAS``).

        Returns
        -------
        ndarray of shape (n_obs, n_params)
        """
        st = self._convention(convention, "dfbetas")
        if st is Style.R:
            return self._dfbetas_r_into(None, np.arange(self.n_params))
        if st in (Style.STATSMODELS, Style.SAS):
            ones = np.full(len(self.leverage), np.sqrt(self.dispersion))
            return standardize_dfbeta(self._dfbeta_pearson_one_step(), ones, self.cov_unscaled_diag)
        return self.dfbetas

    def cooks_distance_as(self, convention: str = "regdiag") -> FloatArray:
        """Cook's distance as ``convention`` defines it, shape (n_obs,).

        Parameters
        ----------
        convention : {"regdiag", "R", "statsmodels"}
            "regdiag": :attr:`cooks_distance` (exact with exact leave-one-out). "R" and "statsmodels": the one-step
            ``r_P^2 h / (p phi (1 - h)^2)`` with Pearson residuals (R's ``cooks.distance.glm``, statsmodels'
            ``cooks_distance``).

        Returns
        -------
        ndarray of shape (n_obs,)
        """
        st = self._convention(convention, "cooks_distance", allowed=(Style.REGDIAG, Style.R, Style.STATSMODELS))
        return self.cooks_distance if st is Style.REGDIAG else self._cooks_distance_one_step()

    def _cooks_distance_one_step(self) -> FloatArray:
        return self.cooks_distance if self.cooks_distance_one_step is None else self.cooks_distance_one_step

    def _dfbetas_r_into(self, out: FloatArray | None, cols: Any) -> FloatArray:
        """R's dfbetas of the columns ``cols``, written into ``out`` (one pass for the residual ratio and sigma)."""
        if self.residual == "deviance" and self.method == "glm-one-step":
            base, row = self.dfbeta, self.sigma_loo
        else:  # R's deviance residual in place of the one-step's: a row factor
            base = self._dfbeta_pearson_one_step()
            with np.errstate(divide="ignore", invalid="ignore"):
                row = self.sigma_loo / self._ratio()
        cols = np.asarray(cols)
        if cols.size != base.shape[1] or np.any(cols != np.arange(base.shape[1])):
            base = base[:, cols]
        return standardize_dfbeta(base, row, self.cov_unscaled_diag[cols], out=out)


    # ---- Pregibon's measures (SAS PROC LOGISTIC) -----------------------------------------------------------------
    def _pregibon(self, kind: str) -> FloatArray:
        h, chi2 = self.leverage, self.resid_pearson**2
        with np.errstate(divide="ignore", invalid="ignore"):
            if kind == "c":
                out = chi2 * h / (1.0 - h) ** 2
            elif kind == "cbar":
                out = chi2 * h / (1.0 - h)
            elif kind == "difchisq":
                out = chi2 / (1.0 - h)
            else:
                out = self.resid_deviance**2 + chi2 * h / (1.0 - h)
        out[~(h < 1) | ~np.isfinite(out) | np.isnan(self._cooks_distance_one_step())] = np.nan
        return out

    @property
    def pregibon_c(self) -> FloatArray:
        """Pregibon's confidence-interval displacement ``C_i = r_P^2 h / (1 - h)^2`` (SAS ``C``; ``= p phi D_i``)."""
        return self._pregibon("c")

    @property
    def pregibon_cbar(self) -> FloatArray:
        """Pregibon's ``Cbar_i = r_P^2 h / (1 - h)`` (SAS ``CBAR``)."""
        return self._pregibon("cbar")

    @property
    def difchisq(self) -> FloatArray:
        """One-step decrease of Pearson's chi-square on deleting i, ``r_P^2 / (1 - h)`` (SAS ``DIFCHISQ``)."""
        return self._pregibon("difchisq")

    @property
    def difdev(self) -> FloatArray:
        """One-step decrease of the deviance on deleting i, ``d_i^2 + Cbar_i`` (SAS ``DIFDEV``)."""
        return self._pregibon("difdev")

    # ---- frames, flags, outlier test ----------------------------------------------------------------------------
    def _regdiag_columns(self) -> dict[str, FloatArray]:
        return {
            "leverage": self.leverage,
            "resid_response": self.resid,
            "resid_working": self.resid_working,
            "resid_pearson": self.resid_pearson,
            "resid_deviance": self.resid_deviance,
            "standard_resid": self.standard_resid,
            "standard_resid_pearson": self.standard_resid_pearson,
            "student_resid": self.student_resid,
            "press_resid": self.press_resid,
            "sigma_loo": self.sigma_loo,
            "cooks_distance": self.cooks_distance,
            "cooks_pvalue": self.cooks_pvalue,
            "dffits": self.dffits,
            "cov_ratio": self.cov_ratio,
        }

    def to_frame(self, style: str = "regdiag") -> pd.DataFrame:
        """All per-observation measures as a DataFrame indexed like the input rows.

        Parameters
        ----------
        style : {"regdiag", "R", "statsmodels", "SAS"}
            "regdiag": regdiag's names (residuals of every type, standardized and studentized residuals, Cook's
            distance, DFFITS, COVRATIO), then ``dfbeta_<name>`` and ``dfbetas_<name>``. "R": R's
            ``influence.measures(glm)$infmat`` — the one-step measures R defines (``dfb.*`` from deviance residuals,
            ``dffit``, ``cov.r``, ``cook.d``, ``hat``), whatever ``loo`` and ``residual`` were. "statsmodels":
            the columns of statsmodels' ``GLMInfluence.summary_frame()`` (``dfb_<name>`` is the one-step Pearson
            change over the standard error, ``cooks_d``, ``standard_resid`` (Pearson), ``hat_diag``,
            ``dffits_internal``). "SAS": PROC LOGISTIC's OUTPUT names ``H``, ``RESCHI``, ``RESDEV``, ``STDRESCHI``,
            ``STDRESDEV``, ``RESLIK``, ``C``, ``CBAR``, ``DIFCHISQ``, ``DIFDEV`` and ``DFBETA_<name>``.

        Returns
        -------
        pandas.DataFrame
        """
        st = as_enum(Style, style, "style")
        kept = self.kept_columns()
        if st is Style.R:
            # one n x (p + 4) column-major array, handed to pandas without a copy
            k = len(kept)
            mat = np.empty((len(self.index), k + 4), order="F")
            self._dfbetas_r_into(mat[:, :k], kept)
            for j, col in enumerate((self.dffits, self.cov_ratio, self._cooks_distance_one_step(), self.leverage)):
                mat[:, k + j] = col
            cols = self.r_dfbeta_names() + ["dffit", "cov.r", "cook.d", "hat"]
            return pd.DataFrame(mat, index=self.index, columns=cols, copy=False)
        if st is Style.STATSMODELS:
            dfbs = self.dfbetas_as("statsmodels")[:, kept]
            data = {f"dfb_{self.param_names[j]}": dfbs[:, i] for i, j in enumerate(kept)}
            data.update(
                cooks_d=self._cooks_distance_one_step(),
                standard_resid=self.standard_resid_pearson,
                hat_diag=self.leverage,
                dffits_internal=self.dffits_internal,
            )
            return pd.DataFrame(data, index=self.index)
        return Influence.to_frame(self, style)

    def _sas_frame(self) -> pd.DataFrame:
        with np.errstate(divide="ignore", invalid="ignore"):
            root = np.sqrt(1.0 - self.leverage)
            data: dict[str, FloatArray] = {
                "H": self.leverage,
                "RESCHI": self.resid_pearson,
                "RESDEV": self.resid_deviance,
                "STDRESCHI": self.resid_pearson / root,
                "STDRESDEV": self.resid_deviance / root,
                "RESLIK": self.student_resid,
                "C": self.pregibon_c,
                "CBAR": self.pregibon_cbar,
                "DIFCHISQ": self.difchisq,
                "DIFDEV": self.difdev,
            }
        for k in ("STDRESCHI", "STDRESDEV"):
            data[k][~(self.leverage < 1)] = np.nan
        dfbs = self.dfbetas_as("SAS")
        for j in self.kept_columns():
            nm = "Intercept" if self.param_names[j] in INTERCEPT_NAMES else self.param_names[j]
            data[f"DFBETA_{nm}"] = dfbs[:, j]
        return pd.DataFrame(data, index=self.index)

    def _flag_values(self, measure: str, is_r: bool) -> FloatArray:
        if is_r and measure == "dfbetas":
            return self.dfbetas_as("R")
        if is_r and measure == "cooks_distance":
            return self.cooks_distance_as("R")
        return getattr(self, measure)

    def _outlier_reference(self, style: Style) -> float | None:
        if style is Style.R and self.theta_estimated:
            return float(self.df_resid - 1)  # car: class "negbin" is not "glm", so t(df)
        return None  # the standard normal

    def group_deletion(self, groups: Any, loo: str | None = None) -> GroupInfluence:
        """Deletion of whole groups (see :meth:`regdiag.linear.glm.GLMFit.group_deletion`).

        Parameters
        ----------
        groups : array_like, mapping or sequence of sequences
            One group label per row (a Series is aligned on the row labels), ``{group: [row labels]}``, or a list
            of lists of row labels.
        loo : {"exact", "one-step"}, optional
            Exact refits or the one-step approximation; defaults to this object's method ("exact" for an object
            from exact leave-one-out).

        Returns
        -------
        GroupInfluence
            One row per group.
        """
        fit = self._group_fit()
        if loo is None:
            loo = "exact" if self.method == "glm-exact" else "one-step"
        return cast(GroupInfluence, fit.group_deletion(groups, loo=loo))


@dataclass(frozen=True, eq=False, kw_only=True, slots=True)
class GroupInfluence:
    """Exact influence of deleting groups of observations.

    Attributes
    ----------
    groups : pandas.Index
        Group labels.
    size : ndarray of shape (n_groups,)
        Number of observations (with positive weight) in each group.
    loo_params : ndarray of shape (n_groups, n_params)
        Coefficients with the group deleted.
    dfbeta : ndarray of shape (n_groups, n_params)
        ``b - b_(G)``.
    dfbetas : ndarray of shape (n_groups, n_params)
        ``dfbeta / (s_(G) sqrt(diag((X'WX)^{-1})))``.
    cooks_distance : ndarray of shape (n_groups,)
        ``(b - b_(G))' X'WX (b - b_(G)) / (p s^2)``.
    sigma_loo : ndarray of shape (n_groups,)
        Residual standard error with the group deleted.
    leverage : ndarray of shape (n_groups,)
        Trace of the group's block of the hat matrix.
    param_names : tuple of str
        Coefficient names, labelling the columns of ``dfbeta`` and ``dfbetas``.
    aliased : tuple of str
        Names of the aliased coefficients (NaN columns).
    method : str
        How the deletions were computed ("ols-exact-group", "glm-exact-group", "glm-one-step-group", ...).
    """

    groups: pd.Index
    size: FloatArray
    loo_params: FloatArray
    dfbeta: FloatArray
    dfbetas: FloatArray
    cooks_distance: FloatArray
    sigma_loo: FloatArray
    leverage: FloatArray
    param_names: tuple[str, ...]
    aliased: tuple[str, ...] = ()
    method: str = "ols"

    def __post_init__(self) -> None:
        _freeze(self)

    @property
    def index(self) -> pd.Index:
        """The group labels, which label the rows of every array (``groups``)."""
        return self.groups

    def dfbeta_as(self, convention: str = "regdiag") -> FloatArray:
        """:attr:`dfbeta` (group deletion has regdiag's convention only).

        Parameters
        ----------
        convention : {"regdiag"}
            The only convention there is for group deletion; any other raises ValueError.

        Returns
        -------
        ndarray of shape (n_groups, n_params)
            ``b - b_(G)``.
        """
        check_convention(convention, "group deletion's dfbeta", allowed=(Style.REGDIAG,))
        return self.dfbeta

    def dfbetas_as(self, convention: str = "regdiag") -> FloatArray:
        """:attr:`dfbetas` (group deletion has regdiag's convention only).

        Parameters
        ----------
        convention : {"regdiag"}
            The only convention there is for group deletion; any other raises ValueError.

        Returns
        -------
        ndarray of shape (n_groups, n_params)
            ``dfbeta`` over the deleted standard errors.
        """
        check_convention(convention, "group deletion's dfbetas", allowed=(Style.REGDIAG,))
        return self.dfbetas

    def to_frame(self, style: str = "regdiag") -> pd.DataFrame:
        """One row per group: size, leverage, Cook's distance, sigma_loo, then dfbeta_* and dfbetas_*.

        Parameters
        ----------
        style : {"regdiag"}
            Group deletion has regdiag's names only (R and statsmodels have no group deletion).

        Returns
        -------
        pandas.DataFrame
        """
        if as_enum(Style, style, "style") is not Style.REGDIAG:
            raise ValueError(f"style={style!r}: group deletion results have style 'regdiag' only")
        data: dict[str, FloatArray] = {
            "size": self.size,
            "leverage": self.leverage,
            "cooks_distance": self.cooks_distance,
            "sigma_loo": self.sigma_loo,
        }
        kept = [j for j, nm in enumerate(self.param_names) if nm not in self.aliased]
        for j in kept:
            data[f"dfbeta_{self.param_names[j]}"] = self.dfbeta[:, j]
        for j in kept:
            data[f"dfbetas_{self.param_names[j]}"] = self.dfbetas[:, j]
        return pd.DataFrame(data, index=self.groups)


@dataclass(frozen=True, eq=False, kw_only=True, slots=True)
class RLMInfluence(Influence):
    """Influence measures of a robust (M or MM) regression (see :meth:`regdiag.linear.rlm.RLMFit.influence`).

    ``leverage`` is the hat diagonal of the final weighted least-squares fit (R's ``hatvalues`` of an rlm fit);
    ``dfbeta`` is ``b - b_(i)``, exact (the M-estimation and its scale re-solved without row i: ``method``
    "rlm-exact") or the one-step Newton estimate with the scale held fixed ("rlm-one-step"); ``sigma_loo`` the
    scale of the deleted fit (the full fit's for one-step); ``sigma`` the scale ``s``. ``cooks_distance`` is
    ``dfbeta' cov^{-1} dfbeta / p`` in the fit's robust covariance ``tau^2 (X'X)^{-1}``; ``dfbetas`` is ``dfbeta``
    over the robust standard errors. ``standard_resid`` and ``student_resid`` are ``r_i / (s sqrt(1 - h_i))`` and
    with ``s_(i)``; ``dffits`` is the weighted fit's with ``s_(i)``. ``cov_ratio`` is ``det(cov_(i)) / det(cov)`` in
    the robust covariance, ``tau_(i)`` recomputed from each deleted fit's residuals and scale (NaN where it is not
    positive).

    The attributes below come in addition to :class:`Influence`'s.

    Attributes
    ----------
    rlm_weights : ndarray of shape (n_obs,)
        Final IRLS weights ``psi(u) / u``.
    scaled_resid : ndarray of shape (n_obs,)
        ``u_i = r_i / s``.
    psi_values, psi_deriv : ndarray of shape (n_obs,)
        ``psi(u_i)`` and ``psi'(u_i)``.
    leverage_newton : ndarray of shape (n_obs,)
        ``h*_i = psi'_i x_i'(X'DX)^{-1} x_i``: the leverage of the Newton step (0 for rows psi ignores).
    dfbeta_one_step : ndarray of shape (n_obs, n_params)
        ``s psi(u_i) (X'DX)^{-1} x_i / (1 - h*_i)`` (scale held fixed).
    stddev : float
        ``tau`` of the covariance.
    loo_iterations : ndarray of int or None
        Newton steps of each exact deletion (the one-step estimate counting as the first).
    loo_error_bound : ndarray or None
        Bound on the exact deletion's remaining error, in standard errors (NaN for rows refitted by IRLS).
    psi_bounded : ndarray of bool
        Rows whose pull psi caps or reduces (weight < 1).
    """

    rlm_weights: FloatArray
    scaled_resid: FloatArray
    psi_values: FloatArray
    psi_deriv: FloatArray
    leverage_newton: FloatArray
    dfbeta_one_step: FloatArray
    stddev: float
    loo_iterations: np.ndarray | None = None
    loo_error_bound: FloatArray | None = None
    psi_bounded: np.ndarray | None = None

    @property
    def dfbetas(self) -> FloatArray:
        """``dfbeta`` over the robust standard errors ``tau sqrt(diag((X'X)^{-1}))``."""
        return standardize_dfbeta(self.dfbeta, np.full(self.dfbeta.shape[0], self.stddev), self.cov_unscaled_diag)

    @property
    def one_step_error(self) -> FloatArray:
        """``|dfbeta_one_step - dfbeta|`` over the standard errors, largest over coefficients, per row (0 for a
        one-step object)."""
        se = self.stddev * np.sqrt(self.cov_unscaled_diag)
        return np.max(np.abs(self.dfbeta_one_step - self.dfbeta) / se[None, :], axis=1)

    def _regdiag_columns(self) -> dict[str, FloatArray]:
        cols = Influence._regdiag_columns(self)
        cols.update(weight=self.rlm_weights, scaled_resid=self.scaled_resid, psi=self.psi_values,
                    leverage_newton=self.leverage_newton)
        return cols


@dataclass(frozen=True, eq=False, kw_only=True, slots=True)
class MLEInfluence(Influence):
    """Influence measures of a maximum-likelihood model with one or several linear predictors (statsmodels'
    discrete models: see :mod:`regdiag.linear.discrete`).

    With ``l_i`` observation i's negative log-likelihood, ``H = sum_i J_i' A_i J_i`` the observed information
    (``J_i``: the derivative of i's model outputs -- linear predictors, and ancillary parameters such as the
    negative binomial's alpha -- in the parameters; ``A_i``: the Hessian of ``l_i`` in those outputs) and
    ``L_i = J_i H^{-1} J_i'``: ``leverage_block`` is ``A_i^(1/2) L_i A_i^(1/2)`` (the block of the generalized hat
    matrix), ``leverage`` its trace (the leverages sum to the number of parameters). The one-step deletion is the
    Newton step without row i, ``b - b_(i) = -H^{-1} J_i' (I - A_i L_i)^{-1} g_i`` (``g_i`` the gradient of ``l_i``
    in the outputs), exact for the quadratic approximation; with ``loo="exact"`` ``dfbeta`` is the re-solved
    maximum-likelihood estimate. ``cooks_distance`` is ``dfbeta' H dfbeta / P`` over the ``P`` parameters;
    ``dfbetas`` is ``dfbeta`` over the standard errors ``sqrt(diag(H^{-1}))``; ``standard_resid`` the Pearson
    residual over ``sqrt(1 - h)`` (NaN for several equations); ``student_resid`` Williams' likelihood residual
    ``sign(y - mu) sqrt(r_D^2 + h r_P^2 / (1 - h))`` for logit, probit and Poisson (R's ``rstudent`` of the
    binomial or Poisson GLM), NaN with a warning for models with several outputs; ``sigma`` and ``sigma_loo`` are 1.

    The attributes below come in addition to :class:`Influence`'s.

    Attributes
    ----------
    model : str
        "logit", "probit", "poisson", "negbin2", "genpoisson", "mnlogit".
    resid_pearson : ndarray of shape (n_obs,)
        ``(y - mu) / sqrt(V(mu))`` (NaN for several equations).
    leverage_block : ndarray of shape (n_obs, k, k) or None
        The generalized hat matrix's diagonal blocks (k outputs), for models with several outputs.
    dfbeta_one_step : ndarray of shape (n_obs, n_params)
        The one-step estimate of the change of the coefficients.
    cooks_distance_one_step : ndarray of shape (n_obs,)
        Cook's distance of the one-step estimate.
    loo_iterations, loo_error_bound : ndarray or None
        Exact deletion: Newton steps per row and a bound on the error left (in standard errors).
    """

    model: str = ""
    resid_pearson: FloatArray | None = None
    leverage_block: FloatArray | None = None
    dfbeta_one_step: FloatArray | None = None
    cooks_distance_one_step: FloatArray | None = None
    loo_iterations: np.ndarray | None = None
    loo_error_bound: FloatArray | None = None

    @property
    def dfbetas(self) -> FloatArray:
        """``dfbeta`` over the standard errors ``sqrt(diag(H^{-1}))`` of the full fit (statsmodels' ``dfbetas``)."""
        return standardize_dfbeta(self.dfbeta, np.ones(self.dfbeta.shape[0]), self.cov_unscaled_diag)
