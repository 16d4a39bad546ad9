"""Risk sets of a (stratified) Cox model and the sums over them, for one or many coefficient vectors at once.

Observations are sorted by stratum, then time. A *block* is a set of observations sharing a stratum and a time;
the risk set at a block's time is every observation of its stratum with a time at least as large (right-censored
data, no delayed entry). For a column of risk weights ``w_j = exp(eta_j)``:

* ``S0_b``: the weight of block ``b``'s risk set, ``D0_b`` the weight of its deaths, ``d_b`` their number;
* Efron's approximation replaces the ``d_b`` identical denominators of Breslow's by
  ``den_bk = S0_b - (k / d_b) D0_b``, ``k = 0 .. d_b - 1`` (Breslow: ``den_bk = S0_b``);
* the hazard increment an observation at risk at ``b`` is charged is ``a_b = sum_k 1 / den_bk``; a death at ``b``
  is charged ``ad_b = sum_k (1 - k / d_b) / den_bk`` there instead (R's ``coxmart``);
* ``A_j``: the cumulative charge of observation ``j`` (over the blocks of its stratum up to its own time); the
  martingale residual is ``delta_j - w_j A_j``.

Every sum of the partial likelihood that involves the risk sets is a weighted sum over observations with weights
``w_j A_j``: ``sum_b sum_k (S1_b - c_k D1_b) / den_bk = X' (w * A)``, and likewise for ``S2`` (the first term of
the information). This is what makes a batch of deletions (one column per deleted observation) a few elementwise
passes and two matrix products with the design.
"""

from __future__ import annotations

import numpy as np

__all__ = ["RiskSets"]


class RiskSets:
    """The sorted layout of the data: blocks of equal (stratum, time), strata as ranges of blocks.

    Parameters
    ----------
    time : ndarray of shape (n_obs,)
    status : ndarray of shape (n_obs,)
        1 for an event, 0 for censoring.
    strata : ndarray of int, shape (n_obs,)
        Stratum code of each observation.
    efron : bool
        Efron's approximation for tied event times (else Breslow's).
    weights : ndarray of shape (n_obs,), optional
        Case weights (positive).
    entry : ndarray of shape (n_obs,), optional
        Entry times of counting-process data (``Surv(start, stop, event)``): observation ``j`` is at risk at the
        times ``t`` with ``entry_j < t <= time_j``. Its risk-set sums are then those of the observations whose
        time is at least ``t`` less those that enter at or after ``t``.
    offset : ndarray of shape (n_obs,), optional
        Added to the linear predictor (kept here in sorted order).
    """

    def __init__(
        self, time: np.ndarray, status: np.ndarray, strata: np.ndarray, efron: bool, weights: np.ndarray | None = None,
        entry: np.ndarray | None = None, offset: np.ndarray | None = None,
    ) -> None:
        time = np.asarray(time, dtype=float)
        status = np.asarray(status, dtype=float)
        strata = np.asarray(strata)
        self.n = len(time)
        self.order = np.lexsort((-status, time, strata))  # deaths first among equal times (as R)
        self.rank = np.empty(self.n, dtype=np.intp)
        self.rank[self.order] = np.arange(self.n)
        t, s = time[self.order], strata[self.order]
        self.time_sorted = t
        self.status = status[self.order]
        self.death = self.status > 0
        new = np.ones(self.n, dtype=bool)
        new[1:] = (s[1:] != s[:-1]) | (t[1:] != t[:-1])
        self.starts = np.flatnonzero(new)
        self.n_blocks = len(self.starts)
        self.blk = np.cumsum(new) - 1
        self.trivial = self.n_blocks == self.n  # no two observations share a block
        self.block_stratum = s[self.starts]
        snew = np.ones(self.n_blocks, dtype=bool)
        snew[1:] = self.block_stratum[1:] != self.block_stratum[:-1]
        sb = np.flatnonzero(snew)
        self.stratum_blocks = [slice(a, b) for a, b in zip(sb, np.r_[sb[1:], self.n_blocks])]
        self.d = self.block_sum(self.status)
        # case weights (R's coxph weights): risk weights are w_j exp(eta_j); each death contributes its weight, and
        # a block's d_b Efron terms are weighted by the mean weight of its deaths (R's coxfit6)
        self.weighted = weights is not None
        self.wt = np.ones(self.n) if weights is None else np.asarray(weights, dtype=float)[self.order]
        dw = self.block_sum(self.status * self.wt)
        self.meanwt = np.where(self.d > 0, dw / np.where(self.d > 0, self.d, 1.0), 0.0) if self.weighted else None
        self.max_d = int(self.d.max()) if self.n_blocks else 0
        self.efron = bool(efron) and self.max_d > 1
        self.death_rows = np.flatnonzero(self.death)
        self.offset = None if offset is None else np.asarray(offset, dtype=float)[self.order]
        self.entry_blk = None if entry is None else self._entry_blocks(np.asarray(entry, dtype=float)[self.order], s)

    def _entry_blocks(self, entry: np.ndarray, s: np.ndarray) -> np.ndarray:
        """For each sorted row, the last block of its stratum whose time is at most its entry time (-1: none)."""
        btime = self.time_sorted[self.starts]
        out = np.full(self.n, -1, dtype=np.intp)
        for sl in self.stratum_blocks:
            rows = np.flatnonzero(s == self.block_stratum[sl.start])
            k = np.searchsorted(btime[sl], entry[rows], side="right") - 1
            out[rows] = np.where(k >= 0, k + sl.start, -1)
        return out

    @property
    def has_entry(self) -> bool:
        return self.entry_blk is not None

    def risk_sum(self, V: np.ndarray) -> np.ndarray:
        """Risk-set sums of sorted rows ``V`` (``(n, ...)``) at every block: ``(n_blocks, ...)``."""
        out = self.at_risk(self.block_sum(V))
        if self.entry_blk is not None:
            out -= self.at_risk(self.entry_sum(V))
        return out

    def entry_sum(self, V: np.ndarray) -> np.ndarray:
        """Rows' ``V`` summed at the last block before their entry (``(n_blocks, ...)``)."""
        E = np.zeros((self.n_blocks,) + V.shape[1:])
        m = self.entry_blk >= 0  # type: ignore[operator]
        np.add.at(E, self.entry_blk[m], V[m])  # type: ignore[index]
        return E

    def cumulative_rows(self, P: np.ndarray) -> np.ndarray:
        """Each sorted row's sum of the block values ``P`` over the blocks of its stratum at which it is at risk
        (up to and including its own block; after its entry)."""
        C = self.cumulative(P)
        out = C[self.blk]
        if self.entry_blk is not None:
            m = self.entry_blk >= 0
            out[m] -= C[self.entry_blk[m]]
        return out

    # ---- sums over blocks and risk sets --------------------------------------------------------------------------
    def block_sum(self, V: np.ndarray) -> np.ndarray:
        """Sum of sorted rows ``V`` (``(n, ...)``) within each block: ``(n_blocks, ...)``."""
        if self.trivial:
            return np.array(V, dtype=float, copy=True)
        return np.add.reduceat(V, self.starts, axis=0)

    def at_risk(self, P: np.ndarray) -> np.ndarray:
        """Risk-set sums from block sums: ``sum`` over the blocks of the same stratum at or after each block."""
        out = np.empty_like(P)
        for sl in self.stratum_blocks:
            out[sl] = np.cumsum(P[sl][::-1], axis=0)[::-1]
        return out

    def cumulative(self, P: np.ndarray) -> np.ndarray:
        """Cumulative sums over the blocks of each stratum up to and including each block."""
        out = np.empty_like(P)
        for sl in self.stratum_blocks:
            out[sl] = np.cumsum(P[sl], axis=0)
        return out

    # ---- Efron / Breslow denominators ----------------------------------------------------------------------------
    def hazard_terms(
        self, S0: np.ndarray, D0: np.ndarray, d: np.ndarray, second: bool = False, log: bool = True,
        meanwt: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """Per-block sums over the ``d_b`` denominators ``den_bk`` (shapes as ``S0``; blocks along the last axis).

        Returns ``a`` (``sum 1/den``), ``ad`` (``sum (1 - c)/den``), with ``log`` also ``log`` (``sum log den``),
        and with ``second`` also ``e0, e1, e2`` (``sum c^m / den^2`` for m = 0, 1, 2), ``c_k = k / d_b`` (0 for
        Breslow). Blocks without deaths give zeros. For Efron, the terms ``k >= 1`` are computed on the blocks with
        tied deaths only. With case weights every sum is multiplied by ``meanwt`` (the mean weight of the block's
        deaths).
        """
        out = self._hazard_terms(S0, D0, d, second, log)
        if meanwt is not None:
            for key in out:
                out[key] = out[key] * meanwt
        return out

    def _hazard_terms(
        self, S0: np.ndarray, D0: np.ndarray, d: np.ndarray, second: bool, log: bool
    ) -> dict[str, np.ndarray]:
        d = np.broadcast_to(d, S0.shape)
        has = d > 0
        out: dict[str, np.ndarray] = {}
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            inv = np.where(has, 1.0 / S0, 0.0)
            if not self.efron:
                a = d * inv
                out.update(a=a, ad=a)
                if log:
                    out["log"] = np.where(has, d * np.log(np.where(has, S0, 1.0)), 0.0)
                if second:
                    out.update(e0=d * inv * inv, e1=np.zeros_like(a), e2=np.zeros_like(a))
                return out
            # k = 0: the full risk set, c = 0
            a = inv.copy()
            ad = inv.copy()
            lg = np.where(has, np.log(np.where(has, S0, 1.0)), 0.0) if log else None
            if second:
                e0 = inv * inv
                e1 = np.zeros(S0.shape)
                e2 = np.zeros(S0.shape)
            dmax = d.reshape(-1, d.shape[-1]).max(axis=0) if d.ndim > 1 else d
            for k in range(1, int(dmax.max()) if dmax.size else 0):
                cols = np.flatnonzero(dmax > k)
                dk = d[..., cols]
                m = dk > k
                c = np.where(m, k / np.where(m, dk, 1), 0.0)
                den = np.where(m, S0[..., cols] - c * D0[..., cols], 1.0)
                iv = np.where(m, 1.0 / den, 0.0)
                a[..., cols] += iv
                ad[..., cols] += (1.0 - c) * iv
                if log:
                    lg[..., cols] += np.where(m, np.log(den), 0.0)  # type: ignore[index]
                if second:
                    iv2 = iv * iv
                    e0[..., cols] += iv2
                    e1[..., cols] += c * iv2
                    e2[..., cols] += c * c * iv2
        out.update(a=a, ad=ad)
        if log:
            out["log"] = lg  # type: ignore[assignment]
        if second:
            out.update(e0=e0, e1=e1, e2=e2)
        return out

    def charges(self, a: np.ndarray, ad: np.ndarray) -> np.ndarray:
        """``A_j`` (sorted rows, ``(n, ...)``): cumulative hazard charged to each observation."""
        A = self.cumulative_rows(a)
        dr = self.death_rows
        A[dr] += (ad - a)[self.blk[dr]]
        return A
