"""Exact deletion of single cases and of groups, in closed form from the one factorization.

For a group G of m observations, with ``Q_G`` its m x r rows of Q and ``e_G`` its weighted residuals, deleting G
changes the coefficients by

    b - b_(G) = (X'WX)^{-1} X_G' W_G^(1/2) (I - H_GG)^{-1} e_G,     H_GG = Q_G Q_G'

and the residual sum of squares by ``e_G' (I - H_GG)^{-1} e_G``. Both are computed either with the m x m matrix
``I - Q_G Q_G'`` (small groups) or, by Woodbury, with the r x r matrix ``K = I - Q_G' Q_G`` (large groups):
``Q_G' (I - H_GG)^{-1} e_G = K^{-1} Q_G' e_G``. Groups of equal size are solved as one batch. No n x n matrix is
formed and nothing is refitted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.linalg import solve_triangular

from .._validation import DataError
from .._warnings import warn_rows
from ..linalg import EPS
from ..results import GroupInfluence

if TYPE_CHECKING:  # pragma: no cover
    from .ols import OLSFit

__all__ = ["group_deletion", "resolve_groups"]

#: smallest eigenvalue of I - H_GG below which deleting the group leaves a coefficient unidentifiable
SINGULAR_TOL = 1e3 * EPS


def resolve_groups(index: pd.Index, groups: Any) -> tuple[pd.Index, list[np.ndarray]]:
    """Turn a user's grouping into (group labels, list of row positions).

    Parameters
    ----------
    index : pandas.Index
        Row labels of the fit, length n_obs.
    groups : array_like, mapping or sequence of sequences
        One of: an array-like of one group label per row (a Series is aligned on the row labels); a mapping
        ``{group: [row labels]}``; or a sequence of sequences of row labels.

    Returns
    -------
    labels : pandas.Index
        The group labels, length n_groups.
    members : list of ndarray of int
        Row positions of each group, in the order of ``labels``.
    """
    n = len(index)
    if isinstance(groups, Mapping):
        labels = pd.Index(list(groups.keys()))
        members = [list(v) for v in groups.values()]
        return labels, [_positions(index, m, g) for g, m in zip(labels, members)]
    if isinstance(groups, pd.Series):
        missing = index.difference(groups.index)
        if len(missing):
            raise DataError(f"the group labels do not cover every row; missing rows {list(missing[:5])}")
        values = groups.loc[index].to_numpy()
    else:
        seq = list(groups) if not isinstance(groups, np.ndarray) else groups
        # lists of row labels (as many as there are rows, too: a label per row cannot be a list)
        if len(seq) and all(isinstance(g, (list, tuple, np.ndarray, pd.Index)) for g in seq):
            labels = pd.RangeIndex(len(seq))
            return labels, [_positions(index, m, i) for i, m in enumerate(seq)]
        values = np.asarray(seq, dtype=object)
        if values.shape[0] != n:
            raise DataError(f"groups has {values.shape[0]} labels but the fit has {n} rows")
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    if np.any(codes < 0):
        raise DataError(f"groups has missing labels at rows {list(index[codes < 0][:5])}")
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    return pd.Index(uniques), [order[bounds[g] : bounds[g + 1]] for g in range(len(uniques))]


def _positions(index: pd.Index, members: Any, group: Any) -> np.ndarray:
    members = list(members)
    pos = index.get_indexer(members)
    if np.any(pos < 0):
        bad = [m for m, p in zip(members, pos) if p < 0]
        raise DataError(f"group {group!r} names rows that are not in the fit: {bad[:5]}")
    if len(set(pos.tolist())) != len(pos):
        raise DataError(f"group {group!r} lists a row more than once")
    return pos


def _group_solves(
    Q: np.ndarray, e: np.ndarray, members: list[np.ndarray], r: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each group's ``Q_G' (I - H_GG)^{-1} e_G``, ``e_G' (I - H_GG)^{-1} e_G`` and leverage ``trace(H_GG)``.

    Groups of one size are solved as one batch: with ``m <= r`` rows the ``m x m`` system ``I - Q_G Q_G'``, with
    more the ``r x r`` system ``I - Q_G' Q_G`` (Woodbury). A system whose smallest eigenvalue is at most
    ``SINGULAR_TOL`` is singular: NaN, and flagged.

    Parameters
    ----------
    Q : ndarray of shape (n_obs, rank)
    e : ndarray of shape (n_obs,)
        Weighted residuals.
    members : list of ndarray of int
        Row positions of each group (rows of positive weight).
    r : int
        Rank.

    Returns
    -------
    u : ndarray of shape (n_groups, rank)
    quad, lev : ndarray of shape (n_groups,)
    singular : ndarray of bool, shape (n_groups,)
    """
    G = len(members)
    u = np.full((G, r), np.nan)  # Q_G' (I - H_GG)^{-1} e_G
    quad = np.full(G, np.nan)  # e_G' (I - H_GG)^{-1} e_G
    lev = np.zeros(G)
    singular = np.zeros(G, dtype=bool)
    by_size: dict[int, list[int]] = {}
    for g, group_rows in enumerate(members):
        by_size.setdefault(len(group_rows), []).append(g)
    for m, gs in by_size.items():
        gs_arr = np.asarray(gs)
        if m == 0:
            u[gs_arr] = 0.0
            quad[gs_arr] = 0.0
            continue
        rows = np.stack([members[g] for g in gs])  # (B, m)
        QG = Q[rows]  # (B, m, r)
        eG = e[rows]  # (B, m)
        lev[gs_arr] = np.einsum("bij,bij->b", QG, QG)
        if m <= r:
            M = np.eye(m)[None] - QG @ QG.transpose(0, 2, 1)
            lam = np.linalg.eigvalsh(M)[:, 0]
            ok = lam > SINGULAR_TOL
            if ok.any():
                z = np.linalg.solve(M[ok], eG[ok][..., None])[..., 0]
                u[gs_arr[ok]] = np.einsum("bij,bi->bj", QG[ok], z)
                quad[gs_arr[ok]] = np.einsum("bi,bi->b", eG[ok], z)
        else:
            K = np.eye(r)[None] - QG.transpose(0, 2, 1) @ QG
            lam = np.linalg.eigvalsh(K)[:, 0]
            ok = lam > SINGULAR_TOL
            if ok.any():
                v = np.einsum("bij,bi->bj", QG[ok], eG[ok])
                uu = np.linalg.solve(K[ok], v[..., None])[..., 0]
                u[gs_arr[ok]] = uu
                quad[gs_arr[ok]] = np.einsum("bi,bi->b", eG[ok], eG[ok]) + np.einsum("bj,bj->b", v, uu)
        singular[gs_arr[~ok]] = True

    return u, quad, lev, singular


def group_deletion(fit: OLSFit, groups: Any) -> GroupInfluence:
    """Exact influence of deleting each group of observations.

    Parameters
    ----------
    fit : OLSFit
    groups : array_like, mapping or sequence of sequences
        One group label per row (a Series is aligned on the row labels), ``{group: [row labels]}``, or a list of
        lists of row labels.

    Returns
    -------
    GroupInfluence

    Notes
    -----
    ``b_(G)`` exactly (no refit); ``D_G = (b - b_(G))' X'WX (b - b_(G)) / (p s^2)``;
    ``s_(G)^2 = (RSS - e_G'(I - H_GG)^{-1} e_G) / (n - p - m)``. A group whose deletion leaves a coefficient
    unidentifiable (``I - H_GG`` singular) gets NaN, with one warning naming it.
    """
    labels, members = resolve_groups(fit.index, groups)
    f = fit.factor
    Q, e = f.q, np.asarray(fit.wresid)
    pos_w = fit.positive
    r, G = f.rank, len(members)
    p, n = fit.rank, fit.nobs
    rss, s = fit.ssr, fit.sigma
    members = [m[pos_w[m]] for m in members]  # zero-weight rows do not count
    sizes = np.array([len(m) for m in members], dtype=float)

    u, quad, lev, singular = _group_solves(Q, e, members, r)
    delta = solve_triangular(f.r, u.T, lower=False, check_finite=False).T if r else np.zeros((G, 0))
    dfbeta = f.to_original(delta)
    params = np.asarray(fit.coef)
    loo = params[None, :] - dfbeta
    df_g = n - p - sizes
    with np.errstate(divide="ignore", invalid="ignore"):
        s_g = np.sqrt(np.maximum(rss - quad, 0.0) / df_g)
        s_g[df_g <= 0] = np.nan
        cooks = np.einsum("gj,gj->g", u, u) / (p * s**2)
        dfbetas = dfbeta / np.outer(s_g, np.sqrt(f.cov_unscaled_diag()))
    dfbetas[~np.isfinite(dfbetas)] = np.nan
    if fit.perfect_fit:
        cooks[:] = np.nan
        dfbetas[:] = np.nan
        s_g[:] = np.nan
    if singular.any():
        warn_rows(
            "deleting these groups leaves a coefficient unidentifiable (I - H_GG is singular): their deletion "
            "measures are NaN",
            labels[singular],
            noun="groups",
        )
    return GroupInfluence(
        groups=labels,
        size=sizes,
        loo_params=loo,
        dfbeta=dfbeta,
        dfbetas=dfbetas,
        cooks_distance=cooks,
        sigma_loo=s_g,
        leverage=lev,
        param_names=fit.param_names,
        aliased=fit.aliased,
        method=f"{fit.method}-exact-group",
    )
