"""The S-estimate that starts an MM fit, computed as ``MASS::lqs(method = "S", k0 = 1.548)``.

``rlm(method = "MM")`` starts its bisquare M step from ``lqs(x, y, intercept = FALSE, method = "S", k0 = 1.548)``
and holds the scale at that S-estimate's. lqs's S search, step by step (MASS's ``src/lqs.c``, ``lqs_fitlots``, and
``R/lqs.R``):

1. Candidates: every ``p``-subset of the rows when ``choose(n, p) < 5000`` (``nsamp = "best"``), in lexicographic
   order; otherwise ``min(500 p, 3000)`` subsets drawn at random with R's random number generator. A subset whose
   ``p x p`` design has rank below ``p`` (LINPACK ``dqrdc2`` with tolerance ``1e-7``: a column whose remaining norm
   falls below ``1e-7`` times its norm) is skipped as singular.
2. Each candidate is the exact fit through its ``p`` rows; its residuals ``r`` over all ``n`` rows.
3. Its M-scale solves ``sum chi(r_i / (k0 s)) = (n - p) / 2`` with ``chi(u) = 3u^2 - 3u^4 + u^6`` (``|u| <= 1``, else
   1), by the re-substitution ``s <- s sqrt(sum chi / ((n - p) / 2))`` for at most 30 steps, stopping (after
   taking the step) when ``|sum chi / target - 1| < 1e-4``. The first non-singular candidate starts from
   ``median |r| / 0.6745`` (the ``floor(n/2) + 1``-th smallest ``|r_i|``); every later one starts from the best scale so
   far, and is skipped unless ``sum chi(r_i / (k0 best)) <= target`` (it cannot beat the best otherwise).
4. The candidate with the smallest scale (the first of equals) is kept.
5. Refinement (R code): up to 30 steps of weighted least squares with bisquare weights
   ``(1 - min(1, |r / (s k0)|)^2)^2``, then ``s2 = s sqrt(sum chi(r / s) / ((n - p) / 2))``; stop when
   ``|s2 / s - 1| < 1e-5`` (keeping ``s``, not ``s2``), else ``s <- s2``.

``rlm`` then starts from the refinement's residuals with the scale ``s``. (lqs returns the refined coefficients
under the misspelled name ``coefficents``; its ``coefficients`` are the subset fit's.)

With exhaustive enumeration the result is deterministic and reproduced here to rounding. With random subsets
(``choose(n, p) >= 5000``) R's draws come from R's own generator; here they come from NumPy's (``seed``), so the
S-estimate may differ from R's. Two ways to reproduce R's: ``r_seed=`` draws the subsets as R does after
``set.seed(r_seed)`` (R's default Mersenne-Twister, :func:`r_uniforms`; any other use of R's generator between
``set.seed`` and ``lqs`` changes R's draws), or pass R's start with ``init=(lqs_fit$coefficents,
lqs_fit$scale)``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import ConvergenceError, DesignError

__all__ = ["EXACT_LIMIT", "K0", "SEstimate", "lqs_s_estimate", "r_uniforms", "s_refine", "s_start_from_coef"]

#: lqs's S tuning constant (breakdown 1/2 with ``beta = 1/2``)
K0 = 1.548
#: ``nsamp = "best"`` enumerates every subset when there are fewer than this many
EXACT_LIMIT = 5000
#: LINPACK dqrdc2's rank tolerance as lqs calls it
_QR_TOL = 1e-7
_CHUNK_ELEMENTS = 1 << 20


@dataclass(frozen=True, eq=False)
class SEstimate:
    """An S-estimate as lqs computes it.

    Attributes
    ----------
    coef : ndarray of shape (n_params,)
        The refined coefficients (lqs's ``coefficents``): the start of the MM step.
    scale : float
        The refined S-scale (lqs's ``scale``): the MM step's fixed scale.
    subset_coef : ndarray of shape (n_params,)
        The best subset's exact fit (lqs's ``coefficients``).
    crit : float
        The best subset's scale before refinement (lqs's ``crit``).
    best_subset : ndarray of shape (n_params,)
        0-based rows of the best subset, sorted.
    n_candidates : int
        Subsets tried.
    n_singular : int
        Of those, singular ones.
    exhaustive : bool
        Whether every subset was tried (then the result does not depend on ``seed``).
    refine_steps : int
        Refinement steps taken.
    """

    coef: np.ndarray
    scale: float
    subset_coef: np.ndarray
    crit: float
    best_subset: np.ndarray
    n_candidates: int
    n_singular: int
    exhaustive: bool
    refine_steps: int


def _chi_sum(r: np.ndarray, a: float | np.ndarray, axis: int | None = None) -> Any:
    """``sum chi(r / a)`` with lqs's ``chi(u) = u^2 (3 + u^2 (-3 + u^2))``, 1 beyond ``|u| > 1``."""
    u = r / a
    u = u * u
    return np.sum(np.where(u > 1.0, 1.0, u * (3.0 + u * (-3.0 + u))), axis=axis)


def _solve_scale(r: np.ndarray, old: float, k0: float, target: float) -> float:
    """lqs_fitlots' re-substitution for the M-scale (at most 30 steps, tolerance 1e-4 on the equation)."""
    new = old
    for _ in range(30):
        ssum = float(_chi_sum(r, k0 * old))
        new = math.sqrt(ssum / target) * old
        if abs(ssum / target - 1.0) < 1e-4:
            break
        old = new
    return new


def r_uniforms(r_seed: int, size: int) -> np.ndarray:
    """The first ``size`` numbers of R's ``runif()`` after ``set.seed(r_seed)`` (R's default generator,
    Mersenne-Twister: ``set.seed`` scrambles the seed by 50 steps of the congruential generator ``69069 s + 1``
    and fills the generator's 624 words with the next ones; each draw is a 32-bit output over ``2^32``, kept
    inside (0, 1)).

    Parameters
    ----------
    r_seed : int
        The argument of R's ``set.seed``.
    size : int

    Returns
    -------
    ndarray of shape (size,)
    """
    s = int(r_seed) % 2**32
    for _ in range(50):
        s = (69069 * s + 1) % 2**32
    words = []
    for _ in range(625):
        s = (69069 * s + 1) % 2**32
        words.append(s)
    bg = np.random.MT19937()
    bg.state = {"bit_generator": "MT19937", "state": {"key": np.array(words[1:], dtype=np.uint32), "pos": 624}}
    u = bg.random_raw(size).astype(float) * 2.3283064365386963e-10
    tiny = 0.5 * 2.328306437080797e-10
    return np.where(u <= 0.0, tiny, np.where(1.0 - u <= 0.0, 1.0 - tiny, u))


def _r_subsets(n: int, p: int, count: int, r_seed: int) -> np.ndarray:
    """lqs's ``sample_noreplace``: ``p`` of ``n`` rows per subset, ``j = (int)(m * unif_rand())`` from the rows
    left, as R draws them after ``set.seed(r_seed)``; shape (count, p)."""
    u = r_uniforms(r_seed, count * p).reshape(count, p)
    out = np.empty((count, p), dtype=np.intp)
    for t in range(count):
        ind = list(range(n))
        m = n
        for i in range(p):
            j = int(m * u[t, i])
            out[t, i] = ind[j]
            m -= 1
            ind[j] = ind[m]
    return out


def _subsets(n: int, p: int, nsamp: Any, seed: int, r_seed: int | None = None) -> tuple[Any, int, bool]:
    """An iterator over index arrays (chunks of subsets), their number and whether they are all ``p``-subsets."""
    nexact = math.comb(n, p)
    if isinstance(nsamp, str):
        key = nsamp.lower()
        if key == "best":
            exhaustive = nexact < EXACT_LIMIT
        elif key in ("exact", "sample"):
            exhaustive = key == "exact"
        else:
            raise ValueError(f"nsamp={nsamp!r} is not 'best', 'exact', 'sample' or a number of subsets")
        count = nexact if exhaustive else min(500 * p, 3000)
    else:
        count = int(nsamp)
        if count < 1:
            raise ValueError(f"nsamp must be at least 1, got {nsamp!r}")
        exhaustive = count >= nexact
        count = nexact if exhaustive else count
    chunk = max(1, min(4096, _CHUNK_ELEMENTS // max(n, 1)))

    def gen() -> Any:
        if exhaustive:
            combos = itertools.combinations(range(n), p)
            while True:
                block = np.array(list(itertools.islice(combos, chunk)), dtype=np.intp).reshape(-1, p)
                if block.size == 0:
                    return
                yield block
        elif r_seed is not None:
            all_rows = _r_subsets(n, p, count, r_seed)
            for start in range(0, count, chunk):
                yield all_rows[start:start + chunk]
        else:
            rng = np.random.default_rng(seed)
            left = count
            while left > 0:
                m = min(chunk, left)
                yield np.argsort(rng.random((m, n)), axis=1)[:, :p]
                left -= m

    return gen(), count, exhaustive


def _subset_fits(X: np.ndarray, y: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact fits through each subset's rows: (coefficients (m, p), non-singular mask (m,)) with dqrdc2's rule."""
    Xs = X[idx]  # (m, p, p)
    norms = np.linalg.norm(Xs, axis=1)  # column norms (m, p)
    norms = np.where(norms == 0.0, 1.0, norms)
    R = np.linalg.qr(Xs, mode="r")
    ok = np.all(np.abs(np.diagonal(R, axis1=1, axis2=2)) >= _QR_TOL * norms, axis=1)
    coef = np.zeros(idx.shape, dtype=float)
    if np.any(ok):
        coef[ok] = np.linalg.solve(Xs[ok], y[idx[ok]][..., None])[..., 0]
    return coef, ok


def _search(X: np.ndarray, y: np.ndarray, k0: float, nsamp: Any, seed: int, r_seed: int | None = None
            ) -> tuple[np.ndarray, float, np.ndarray, int, int, bool]:
    """lqs_fitlots for ``method = "S"``: the best subset fit and its scale (see the module docstring)."""
    n, p = X.shape
    target = (n - p) * 0.5
    chunks, count, exhaustive = _subsets(n, p, nsamp, seed, r_seed)
    best = math.inf
    best_coef = np.full(p, np.nan)
    best_rows = np.zeros(p, dtype=np.intp)
    singular = 0
    first = True
    for idx in chunks:
        coef, ok = _subset_fits(X, y, idx)
        singular += int(np.sum(~ok))
        cols = np.flatnonzero(ok)
        if cols.size == 0:
            continue
        R = y[:, None] - X @ coef[cols].T  # residuals (n, m)
        start = 0
        if first:
            r = R[:, 0]
            old = float(np.partition(np.abs(r), n // 2)[n // 2]) / 0.6745
            crit = _solve_scale(r, old, k0, target) if old > 0 else 0.0
            best, best_coef, best_rows = crit, coef[cols[0]].copy(), idx[cols[0]].copy()
            first = False
            start = 1
        if start >= cols.size or best == 0.0:
            continue
        sums = _chi_sum(R[:, start:], k0 * best, axis=0)
        for j in np.flatnonzero(sums <= target) + start:
            r = R[:, j]
            if float(_chi_sum(r, k0 * best)) > target:
                continue  # cannot beat the best scale
            crit = _solve_scale(r, best, k0, target)
            if crit < best:
                best, best_coef, best_rows = crit, coef[cols[j]].copy(), idx[cols[j]].copy()
    if first:
        raise DesignError(f"the S-estimate's search failed: all {count} subsets of {p} rows are singular")
    return best_coef, max(best, 0.0), np.sort(best_rows), count, singular, exhaustive


def _wls_zero(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted least squares over the rows of positive weight (R's lm.wfit); an error if they are rank deficient."""
    keep = w > 0
    sw = np.sqrt(w[keep])
    A = X[keep] * sw[:, None]
    coef, _, rank, _ = np.linalg.lstsq(A, y[keep] * sw, rcond=None)
    if rank < X.shape[1]:
        raise ConvergenceError("the S-estimate's refinement: the rows of positive weight do not determine the "
                               "coefficients (rank deficient)")
    return coef


def s_refine(X: np.ndarray, y: np.ndarray, coef: np.ndarray, scale: float, *, k0: float = K0
             ) -> tuple[np.ndarray, float, int]:
    """lqs's refinement of an S start (step 5 of the module docstring).

    Parameters
    ----------
    X : ndarray of shape (n_obs, n_params)
    y : ndarray of shape (n_obs,)
    coef : ndarray of shape (n_params,)
        Start coefficients.
    scale : float
        Start scale (lqs's ``crit``).
    k0 : float
        Tuning constant of the bisquare weights and of the scale's chi function.

    Returns
    -------
    coef : ndarray of shape (n_params,)
        Refined coefficients.
    scale : float
        Refined S-scale.
    steps : int
        Weighted least-squares steps taken (at most 30).
    """
    n, p = X.shape
    target = (n - p) * 0.5
    resid = y - X @ coef
    if scale <= 0:
        raise ConvergenceError("the S-scale is 0: at least half the rows lie on one hyperplane (an exact fit)")
    steps = 0
    while steps < 30:
        steps += 1
        u = np.minimum(1.0, np.abs(resid / scale / k0))
        w = (1.0 - u * u) ** 2
        coef = _wls_zero(X, y, w)
        resid = y - X @ coef
        s2 = scale * math.sqrt(float(_chi_sum(resid / scale, k0)) / target)
        if abs(s2 / scale - 1.0) < 1e-5:
            break
        scale = s2
    return coef, scale, steps


def lqs_s_estimate(X: np.ndarray, y: np.ndarray, *, k0: float = K0, nsamp: Any = "best", seed: int = 0,
                   r_seed: int | None = None) -> SEstimate:
    """The S-estimate of ``MASS::lqs(x, y, intercept = FALSE, method = "S", k0 = k0)``.

    Parameters
    ----------
    X : ndarray of shape (n_obs, n_params)
        The design (with its intercept column, if any).
    y : ndarray of shape (n_obs,)
    k0 : float
        Tuning constant of the bisquare chi (1.548: breakdown 1/2).
    nsamp : {"best", "exact", "sample"} or int
        lqs's ``nsamp``: "best" tries every subset when ``choose(n, p) < 5000`` and ``min(500 p, 3000)`` random ones
        otherwise; a number larger than ``choose(n, p)`` means every subset.
    seed : int
        Seed of NumPy's generator for random subsets.
    r_seed : int, optional
        Draw the random subsets as R does after ``set.seed(r_seed)`` (R's default Mersenne-Twister generator and
        lqs's ``sample_noreplace``): then lqs's sampled S-estimate is reproduced too.

    Returns
    -------
    SEstimate

    Examples
    --------
    >>> import numpy as np
    >>> from regdiag.linear.rlm_s import lqs_s_estimate
    >>> x = np.arange(10.0)
    >>> y = 2 * x + 1
    >>> y[9] = 100.0
    >>> s = lqs_s_estimate(np.column_stack([np.ones(10), x]), y + 0.01 * np.sin(7 * x))
    >>> s.exhaustive, np.round(s.coef, 1).tolist()
    (True, [1.0, 2.0])
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    n, p = X.shape
    if n <= p:
        raise DesignError(f"the S-estimate needs more observations ({n}) than coefficients ({p})")
    sub_coef, crit, rows, count, singular, exhaustive = _search(X, y, float(k0), nsamp, seed, r_seed)
    coef, scale, steps = s_refine(X, y, sub_coef, crit, k0=float(k0))
    return SEstimate(coef=coef, scale=scale, subset_coef=sub_coef, crit=crit, best_subset=rows,
                     n_candidates=count, n_singular=singular, exhaustive=exhaustive, refine_steps=steps)


def s_start_from_coef(X: np.ndarray, y: np.ndarray, coef: np.ndarray, *, k0: float = K0) -> tuple[np.ndarray, float]:
    """An MM start from given coefficients alone: their M-scale as lqs solves it for its first candidate (from
    ``median |r| / 0.6745``), then lqs's refinement.

    Parameters
    ----------
    X : ndarray of shape (n_obs, n_params)
        Design matrix.
    y : ndarray of shape (n_obs,)
        Response.
    coef : ndarray of shape (n_params,)
        The given coefficients.
    k0 : float
        Tuning constant of the bisquare chi function of the scale.

    Returns
    -------
    coef : ndarray of shape (n_params,)
        Refined coefficients.
    scale : float
        Their S-scale.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    n, p = X.shape
    r = y - X @ np.asarray(coef, dtype=float)
    old = float(np.partition(np.abs(r), n // 2)[n // 2]) / 0.6745
    if old <= 0:
        raise ConvergenceError("the start's residuals have median 0: its S-scale is 0")
    crit = _solve_scale(r, old, float(k0), (n - p) * 0.5)
    c, s, _ = s_refine(X, y, np.asarray(coef, dtype=float), crit, k0=float(k0))
    return c, s
