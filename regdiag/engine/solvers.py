"""Solvers of ``X (C + lambda I) = B`` for a curvature operator ``C``: direct, CG, LiSSA, low-rank (Lanczos).

Right-hand sides are the rows of ``B`` (shape ``(k, n_params)``). Iterative solvers stop at a relative residual
``||B_j - X_j (C + lambda I)|| <= rtol ||B_j||`` for every row ``j`` and raise :class:`ConvergenceError` when they
cannot reach it, instead of returning a wrong vector; with ``on_failure="warn"`` they return the last iterate with an
:class:`InfluenceWarning` stating the residual reached. ``info`` records iterations and residuals.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import ConvergenceError, DesignError, SolverKind, as_enum
from .._warnings import warn, warn_conditioning
from .curvature import Curvature, EigenCurvature, make_curvature
from .curvature.base import EPS, check_spectrum
from .progress import Progress, ProgressArg

__all__ = ["Solver", "DirectSolver", "CGSolver", "LissaSolver", "LowRankSolver", "lanczos", "make_solver", "SOLVERS"]

#: condition number of the equilibrated curvature above which the direct solver warns
COND_WARN = 1e10
#: Lanczos steps spent looking for a null space of an undamped curvature before an iterative solve
SINGULAR_PROBE_STEPS = 60
#: LiSSA measures its rate of convergence over windows of this many iterations and gives up when that rate cannot
#: reach the tolerance within its iterations. Each eigen-component of the residual shrinks by the constant factor
#: ``1 - lambda_k / s`` per iteration, so the largest shrinks no faster than its slowest mode: a window's rate is,
#: if anything, faster than the rate to come (the fast modes are still dying out), and giving up on it is safe.
RATE_WINDOW = 50
#: Lanczos steps LiSSA takes for its scale (the largest eigenvalue); with this many parameters or fewer they find the
#: whole spectrum
LISSA_SPECTRUM_STEPS = 30


class Solver:
    """Base: holds the curvature, the shift ``lambda`` (damping) and diagnostics in ``info``.

    Parameters
    ----------
    curvature : Curvature
        The curvature ``C``.
    shift : float
        The damping ``lambda`` added to it.
    progress : bool or callable, optional
        Progress report (see :mod:`regdiag.engine.progress`).
    """

    name = "solver"

    def __init__(self, curvature: Curvature, shift: float, *, progress: ProgressArg = None) -> None:
        self.curvature = curvature
        self.bk = curvature.bk
        self.shift = float(shift)
        self.progress = progress
        self.info: dict[str, Any] = {"solver": self.name}

    def apply(self, V: Any) -> Any:
        """``V (C + lambda I)``.

        Parameters
        ----------
        V : array of shape (k, n_params)
            Vectors, one per row.

        Returns
        -------
        array of shape (k, n_params)
            The products.
        """
        out = self.curvature.mv(V)
        return out + self.shift * V if self.shift else out

    def solve(self, B: Any) -> Any:
        """``B (C + lambda I)^{-1}``, row by row.

        Parameters
        ----------
        B : array of shape (k, n_params) or (n_params,)
            Right-hand sides, one per row.

        Returns
        -------
        array
            Of ``B``'s shape.
        """
        raise NotImplementedError

    def _fail(self, message: str) -> None:
        """Raise :class:`ConvergenceError`, or with ``on_failure="warn"`` warn and go on with the iterate reached
        (its residual is in the message and in ``info["max_rel_residual"]``)."""
        if getattr(self, "on_failure", "raise") == "warn":
            self.info["converged"] = False
            warn(message + " (on_failure='warn': the solution reached is returned)")
            return
        raise ConvergenceError(message)

    def _rownorms(self, V: Any) -> np.ndarray:
        return self.bk.to_numpy(self.bk.norm(V, axis=1))

    def _check_nonsingular(self, seed: int = 0) -> None:
        """Without damping (and without an l2 term) a singular curvature has no inverse, but an iterative method
        converges on it all the same (to one of infinitely many solutions): raise instead. Eigen-structured
        curvatures know their spectrum; others are probed by Lanczos from a random start, which sees the whole
        spectrum within ``n_params`` steps (up to ``SINGULAR_PROBE_STEPS`` here; beyond that a null space is found
        only when its Ritz value converges, so large undamped problems are not fully protected)."""
        c = self.curvature
        if self.shift > 0 or c.l2 > 0:
            return
        if c.has_solve:
            c.check_shift(self.shift)
            return
        theta, _, _ = lanczos(c, min(c.p, SINGULAR_PROBE_STEPS), seed=seed, progress=self.progress,
                              stage=f"{self.name}: singularity probe")
        check_spectrum(float(theta[0]), float(theta[-1]), 0.0, c.name, c.p)


class DirectSolver(Solver):
    """Exact solve. Eigen-structured curvatures (K-FAC, EK-FAC, diagonal, identity) use their eigendecomposition;
    the others are formed as a matrix, equilibrated ``D (C + lambda I) D`` with ``D = diag(C + lambda I)^{-1/2}``
    rounded to powers of two, checked for singularity by its eigenvalues and solved by Cholesky.

    Parameters
    ----------
    curvature : Curvature
        The curvature ``C``.
    shift : float
        The damping ``lambda`` added to it.
    **kw
        ``progress`` (see :class:`Solver`).
    """

    name = "direct"

    def __init__(self, curvature: Curvature, shift: float, **kw: Any) -> None:
        super().__init__(curvature, shift, **kw)
        bk = self.bk
        self.L: Any = None
        self._inverse: Any = None
        if curvature.has_solve:
            curvature.check_shift(self.shift)
            lo, hi = curvature.extreme_eigenvalues()  # type: ignore[attr-defined]
            self.info["cond"] = (hi + self.shift) / (lo + self.shift)
            return
        M = curvature.dense()
        if M is None:
            raise DesignError(
                f"the direct solver needs the {curvature.name} curvature as a matrix, but {curvature.p} parameters "
                "are too many to form it; use solver='cg', 'lissa' or 'lowrank'"
            )
        if self.shift:
            M = M + self.shift * bk.eye(curvature.p, like=M)
        d = bk.to_numpy(bk.diagonal(M))
        if not np.all(d > 0):
            bad = [curvature.view.param_names[j] for j in np.flatnonzero(~(d > 0))[:5]]
            self._raise_spectrum(M)
            raise DesignError(f"the {curvature.name} curvature has no positive curvature in {bad}; pass damping > 0")
        s = np.exp2(-np.round(np.log2(d) / 2.0))
        self.scale = bk.asarray(s, like=M)
        Ms = M * self.scale[:, None] * self.scale[None, :]
        ev = bk.eigvalsh(Ms)
        lo, hi = bk.min(ev), bk.max(ev)
        try:
            check_spectrum(lo, hi, 0.0, curvature.name, curvature.p)
        except DesignError:
            self._raise_spectrum(M)  # the message with the eigenvalues of C itself, not of its equilibrated copy
            raise
        self.info["cond"] = hi / lo
        warn_conditioning(float(hi / lo), f"the {curvature.name} curvature", "influence", limit=COND_WARN)
        self.L = bk.cholesky(Ms)
        if self.L is None:  # pragma: no cover - the eigenvalue check above catches it
            raise DesignError(f"the {curvature.name} curvature is not positive definite; pass damping > 0")

    def _raise_spectrum(self, M: Any) -> None:
        """Raise the singular/indefinite error stating the eigenvalues of the curvature ``C`` (``M = C + lambda I``)
        and, for an indefinite one, the damping that would make it positive definite."""
        bk = self.bk
        ev = bk.eigvalsh(M)
        check_spectrum(bk.min(ev) - self.shift, bk.max(ev) - self.shift, self.shift, self.curvature.name,
                       self.curvature.p)

    def inverse(self) -> Any:
        """``(C + lambda I)^{-1}`` as a matrix ``D L^{-T} L^{-1} D`` (formed once; R's ``chol2inv``).

        Returns
        -------
        array of shape (n_params, n_params)
            The inverse (the same array on every call).
        """
        if self._inverse is None:
            bk = self.bk
            Linv = bk.solve_triangular(self.L, bk.eye(self.curvature.p, like=self.L), lower=True)
            Ls = Linv * self.scale[None, :]
            self._inverse = bk.swap(Ls) @ Ls
        return self._inverse

    def solve(self, B: Any) -> Any:
        if self.L is None:
            return self.curvature.solve(B, self.shift)
        bk = self.bk
        one = B.ndim == 1
        B2 = B[None, :] if one else B
        if B2.shape[0] > self.curvature.p:  # many right-hand sides: one product with the inverse
            X = B2 @ self.inverse()
        else:
            Y = bk.solve_triangular(self.L, bk.swap(B2) * self.scale[:, None], lower=True)
            X = bk.swap(bk.solve_triangular(self.L, Y, lower=True, transpose=True) * self.scale[:, None])
        return X[0] if one else X


class CGSolver(Solver):
    """Conjugate gradients on all right-hand sides at once, optionally preconditioned.

    Parameters
    ----------
    curvature : Curvature
        The curvature ``C``.
    shift : float
        The damping ``lambda`` added to it.
    rtol : float
        Relative residual to reach for every right-hand side (checked on the true residual at the end).
    atol : float
        Absolute residual tolerance: each row's target is the larger of ``rtol ||b||`` and ``atol``.
    max_iter : int, optional
        Default ``max(100, 3 n_params)``.
    preconditioner : {"kfac", "ekfac", "diagonal"}, EigenCurvature or None
        Preconditions with ``(M + lambda I)^{-1}``; with K-FAC or EK-FAC of a model where they are exact, CG converges
        in one step.
    on_failure : {"raise", "warn"}
        On no convergence: raise :class:`ConvergenceError`, or warn and go on with the iterate reached.
    **kw
        ``progress`` (see :class:`Solver`).
    """

    name = "cg"

    def __init__(
        self,
        curvature: Curvature,
        shift: float,
        *,
        rtol: float = 1e-10,
        atol: float = 0.0,
        max_iter: int | None = None,
        preconditioner: Any = None,
        on_failure: str = "raise",
        **kw: Any,
    ) -> None:
        super().__init__(curvature, shift, **kw)
        self.on_failure = _check_on_failure(on_failure)
        self.rtol, self.atol = float(rtol), float(atol)
        self.max_iter = int(max_iter) if max_iter is not None else max(100, 3 * curvature.p)
        self.pre: EigenCurvature | None = None
        if preconditioner is not None:
            pre = make_curvature(preconditioner, curvature.view, batch_size=curvature.batch_size,
                                 progress=curvature.progress)
            if not isinstance(pre, EigenCurvature):
                raise ValueError(f"a CG preconditioner needs a cheap inverse (kfac, ekfac, diagonal); got {pre.name}")
            pre.check_shift(self.shift)
            self.pre = pre
            self.info["preconditioner"] = pre.name
        self._check_nonsingular()

    def _precondition(self, R: Any) -> Any:
        return R if self.pre is None else self.pre.solve(R, self.shift)

    def solve(self, B: Any) -> Any:
        bk = self.bk
        one = B.ndim == 1
        B = B[None, :] if one else B
        target = np.maximum(self.rtol * self._rownorms(B), self.atol)
        X = bk.zeros(tuple(B.shape), like=B)
        R = bk.copy(B)
        pr = Progress(self.progress, f"cg ({B.shape[0]} right-hand sides)", self.max_iter)
        it, restarts = 0, 0
        rnorm = self._rownorms(R)
        while True:
            done = rnorm <= target
            if done.all():
                # the recurrence's residual drifts from the true one; confirm, and restart from the true one if needed
                R = B - self.apply(X)
                rnorm = self._rownorms(R)
                if (rnorm <= 10.0 * target).all() or restarts >= 3:
                    break
                restarts += 1
                done = rnorm <= target
            Z = self._precondition(R)
            P = Z
            rz = bk.sum(R * Z, axis=1)
            while it < self.max_iter and not done.all():
                AP = self.apply(P)
                pap = bk.sum(P * AP, axis=1)
                pap_np = bk.to_numpy(pap)
                if np.any((pap_np <= 0) & ~done):
                    raise DesignError(
                        f"CG met a direction of non-positive curvature: the {self.curvature.name} curvature plus "
                        "damping is not positive definite. Pass damping > 0 or use the Gauss-Newton curvature"
                    )
                active = bk.asarray((~done).astype(float), like=B)
                alpha = bk.where(active > 0, rz / bk.where(active > 0, pap, 1.0), 0.0)
                X = X + alpha[:, None] * P
                R = R - alpha[:, None] * AP
                rnorm = np.where(done, rnorm, self._rownorms(R))
                done = rnorm <= target
                it += 1
                pr.advance()
                Z = self._precondition(R)
                rz_new = bk.sum(R * Z, axis=1)
                beta = bk.where(active > 0, rz_new / bk.where(rz != 0, rz, 1.0), 0.0)
                P = Z + beta[:, None] * P
                rz = rz_new
            if it >= self.max_iter and not done.all():
                break
        pr.close()
        rel = rnorm / np.maximum(self._rownorms(B), 1e-300)
        self.info.update(iterations=max(self.info.get("iterations", 0), it), max_rel_residual=float(rel.max(initial=0)))
        if not (rnorm <= 10.0 * target).all():
            bad = int(np.count_nonzero(rnorm > 10.0 * target))
            self._fail(
                f"CG did not converge for {bad} of {B.shape[0]} right-hand sides in {it} iterations (largest "
                f"relative residual {rel.max():.3g}, tolerance {self.rtol:.3g}). Raise max_iter, add damping, or use "
                "a preconditioner (preconditioner='ekfac')"
            )
        return X[0] if one else X


def lanczos(
    curvature: Curvature,
    steps: int,
    *,
    shift: float = 0.0,
    seed: int = 0,
    progress: ProgressArg = None,
    stage: str = "lanczos",
) -> tuple[np.ndarray, Any, np.ndarray]:
    """Lanczos with full reorthogonalization on ``C + shift I`` (progress reported under ``stage``).

    Parameters
    ----------
    curvature : Curvature
        The curvature ``C``.
    steps : int
        Lanczos steps (at most ``n_params``).
    shift : float
        ``lambda``.
    seed : int
        Seed of the start vector.
    progress : bool or callable, optional
        Progress report (see :mod:`regdiag.engine.progress`).
    stage : str
        The name progress is reported under.

    Returns
    -------
    theta : ndarray of shape (m,)
        Ritz values (ascending).
    vectors : array of shape (m, n_params)
        Ritz vectors (rows).
    residuals : ndarray of shape (m,)
        ``||C y - theta y||`` of each Ritz pair (zero once the Krylov space is the whole space).
    """
    bk = curvature.bk
    p = curvature.p
    steps = max(1, min(int(steps), p))
    rng = np.random.default_rng(seed)
    like = curvature.view.like

    def fresh(Qm: Any | None) -> Any:
        q = bk.randn((p,), like=like, rng=rng)
        for _ in range(2):
            if Qm is not None:
                q = q - (Qm @ q) @ Qm
        return q / float(bk.norm(q, axis=0))

    q = fresh(None)
    rows: list[Any] = []
    alpha: list[float] = []
    beta: list[float] = []
    Qm = None
    scale = 0.0
    pr = Progress(progress, stage, steps)
    for j in range(steps):
        pr.advance()
        rows.append(q)
        Qm = bk.concat([r[None, :] for r in rows], axis=0)
        w = curvature.mv(q[None, :])[0] + shift * q
        a = float(bk.sum(w * q))
        alpha.append(a)
        for _ in range(2):
            w = w - (Qm @ w) @ Qm
        b = float(bk.norm(w, axis=0))
        scale = max(scale, abs(a), b)
        if j == steps - 1:
            beta.append(b if len(rows) < p else 0.0)
            break
        if b <= 1e3 * EPS * max(scale, 1e-300):  # invariant subspace: continue in a fresh direction
            beta.append(0.0)
            q = fresh(Qm)
        else:
            beta.append(b)
            q = w / b
    pr.close()
    m = len(alpha)
    T = np.diag(alpha) + np.diag(beta[: m - 1], 1) + np.diag(beta[: m - 1], -1)
    theta, S = np.linalg.eigh(T)
    resid = np.abs(beta[m - 1] * S[m - 1, :])
    vectors = bk.asarray(S.T, like=Qm) @ Qm
    return theta, vectors, resid


class LissaSolver(Solver):
    """LiSSA: the recursion ``X <- B/s + X - X (C + lambda I)/s`` (a Neumann series of the inverse; Agarwal et al.
    2017, as used by Koh & Liang), run on the full curvature until the relative residual is below ``rtol``.

    It converges when ``0 < eig(C + lambda I) < 2 s``; ``scale`` ``s`` defaults to 1.05 times the largest eigenvalue
    estimated by 30 Lanczos steps. The rate is ``1 - lambda_min / s``: slow for ill-conditioned curvature (add damping).

    Parameters
    ----------
    curvature : Curvature
        The curvature ``C``.
    shift : float
        The damping ``lambda`` added to it.
    rtol : float
        Relative residual to reach.
    max_iter : int
        Most iterations.
    scale : float, optional
        ``s`` (default: 1.05 times the largest eigenvalue estimate).
    seed : int
        Seed of the Lanczos start vector.
    on_failure : {"raise", "warn"}
        On no convergence: raise :class:`ConvergenceError`, or warn and go on with the iterate reached.
    **kw
        ``progress`` (see :class:`Solver`).
    """

    name = "lissa"

    def __init__(
        self,
        curvature: Curvature,
        shift: float,
        *,
        rtol: float = 1e-8,
        max_iter: int = 20000,
        scale: float | None = None,
        seed: int = 0,
        on_failure: str = "raise",
        **kw: Any,
    ) -> None:
        super().__init__(curvature, shift, **kw)
        self.on_failure = _check_on_failure(on_failure)
        self.rtol, self.max_iter = float(rtol), int(max_iter)
        #: the whole spectrum of ``C + lambda I`` (Ritz values and orthonormal vectors) where the Lanczos steps found
        #: it all (``n_params`` at most ``LISSA_SPECTRUM_STEPS``): then the residual after any number of iterations
        #: is known in advance
        self.spectrum: tuple[np.ndarray, Any] | None = None
        if scale is None:
            theta, vectors, resid = lanczos(curvature, LISSA_SPECTRUM_STEPS, shift=self.shift, seed=seed,
                                            progress=self.progress, stage="lissa: largest eigenvalue")
            if theta[0] <= 0:
                check_spectrum(float(theta[0]), float(theta[-1]), 0.0, curvature.name, curvature.p)
            scale = 1.05 * float(theta[-1])
            if len(theta) == curvature.p and float(np.max(resid)) <= 1e-10 * float(np.max(np.abs(theta))):
                self.spectrum = (np.asarray(theta, dtype=float), vectors)
        self._check_nonsingular(seed)
        if not (scale > 0 and np.isfinite(scale)):
            raise ValueError(f"LiSSA scale must be positive and finite, got {scale!r}")
        self.scale = float(scale)
        self.info["scale"] = self.scale

    def _unreachable(self, B: Any, bn: np.ndarray) -> None:
        """With the whole spectrum known, the residual after ``max_iter`` iterations is ``B (I - A/s)^max_iter``
        (``A = C + lambda I``): fail at once when it is above ``rtol`` instead of iterating to find out."""
        if self.spectrum is None or self.on_failure != "raise":
            return
        theta, Q = self.spectrum
        coords = self.bk.to_numpy(B @ Q.T)  # the rows of B in the orthonormal eigenbasis
        with np.errstate(under="ignore"):
            decay = np.abs(1.0 - theta / self.scale) ** self.max_iter
        final = np.sqrt(((coords * decay) ** 2).sum(axis=1)) / bn
        if (final > self.rtol).any():
            self.info.update(iterations=0, max_rel_residual=float(final.max()))
            slowest = float(np.max(np.abs(1.0 - theta / self.scale)))
            self._fail(
                f"LiSSA did not reach relative residual {self.rtol:.3g}: on this curvature's whole spectrum (found by "
                f"Lanczos) its slowest mode shrinks by the factor 1 - {1.0 - slowest:.3g} per iteration, which leaves "
                f"a relative residual of {final.max():.3g} after {self.max_iter} iterations. Add damping, raise "
                "max_iter or use CG"
            )

    def solve(self, B: Any) -> Any:
        one = B.ndim == 1
        B = B[None, :] if one else B
        bn = np.maximum(self._rownorms(B), 1e-300)
        self._unreachable(B, bn)
        X = B * (1.0 / self.scale)
        pr = Progress(self.progress, f"lissa ({B.shape[0]} right-hand sides)", self.max_iter)
        rel = np.full(B.shape[0], np.inf)
        it = 0
        prev: float | None = None
        for it in range(1, self.max_iter + 1):
            R = B - self.apply(X)
            rel = self._rownorms(R) / bn
            if (rel <= self.rtol).all():
                break
            if not np.isfinite(rel).all() or rel.max() > 1e8:
                raise ConvergenceError(
                    f"LiSSA diverged after {it} iterations (relative residual {rel.max():.3g}): the scale "
                    f"{self.scale:.3g} is below half the largest eigenvalue, or the curvature is indefinite"
                )
            if it % RATE_WINDOW == 0:  # give up early when the observed rate cannot reach rtol within max_iter
                if it > RATE_WINDOW and prev is not None:
                    rate = (rel.max() / prev) ** (1.0 / RATE_WINDOW)
                    if rate >= 1.0 or np.log(self.rtol / rel.max()) / np.log(rate) > 2.0 * (self.max_iter - it):
                        break
                prev = rel.max()
            X = X + R * (1.0 / self.scale)
            pr.advance()
        pr.close()
        self.info.update(iterations=max(self.info.get("iterations", 0), it), max_rel_residual=float(rel.max()))
        if not (rel <= self.rtol).all():
            self._fail(
                f"LiSSA did not reach relative residual {self.rtol:.3g} (largest {rel.max():.3g} after {it} of at "
                f"most {self.max_iter} iterations; its rate 1 - lambda_min/scale is too slow). Add damping, raise "
                "max_iter or use CG"
            )
        return X[0] if one else X


class LowRankSolver(Solver):
    """Low-rank inverse from the ``rank`` largest eigenpairs ``(theta_k, q_k)`` of ``C`` found by Lanczos.

    This is the Arnoldi influence of Schioppa et al. 2022:

    ``X = B Q diag(1/(theta + lambda)) Q' + (B - B Q Q') / lambda``  (the last term only when ``lambda > 0``),

    the exact inverse of the damped rank-``r`` approximation ``Q diag(theta) Q' + lambda I``. Exact when ``rank``
    is the number of parameters. Raises :class:`ConvergenceError` when the wanted eigenpairs have not converged
    (Ritz residual above ``tol`` times the largest eigenvalue) in ``max_iter`` Lanczos steps.

    Parameters
    ----------
    curvature : Curvature
        The curvature ``C``.
    shift : float
        The damping ``lambda`` added to it.
    rank : int, optional
        Eigenpairs kept (default ``min(n_params, 64)``).
    tol : float
        Ritz residual accepted, relative to the largest eigenvalue.
    max_iter : int, optional
        Lanczos steps (default ``min(n_params, max(2 rank, rank + 20))``).
    seed : int
        Seed of the Lanczos start vector.
    **kw
        ``progress`` (see :class:`Solver`).
    """

    name = "lowrank"

    def __init__(
        self,
        curvature: Curvature,
        shift: float,
        *,
        rank: int | None = None,
        tol: float = 1e-8,
        max_iter: int | None = None,
        seed: int = 0,
        **kw: Any,
    ) -> None:
        super().__init__(curvature, shift, **kw)
        p = curvature.p
        self.rank = min(p, int(rank) if rank is not None else min(p, 64))
        if self.rank < 1:
            raise ValueError(f"rank must be a positive integer, got {rank!r}")
        steps = int(max_iter) if max_iter is not None else min(p, max(2 * self.rank, self.rank + 20))
        theta, vecs, resid = lanczos(curvature, steps, seed=seed, progress=self.progress,
                                     stage=f"lowrank: {self.rank} largest eigenpairs")
        order = np.argsort(theta)[::-1][: self.rank]
        top = float(np.max(np.abs(theta)))
        bad = resid[order] > tol * top
        self.info.update(rank=self.rank, lanczos_steps=len(theta), max_ritz_residual=float(resid[order].max() / top))
        if bad.any():
            raise ConvergenceError(
                f"the {int(bad.sum())} of the {self.rank} largest eigenpairs did not converge in {len(theta)} Lanczos "
                f"steps (largest relative residual {resid[order].max() / top:.3g} > {tol:.3g}); raise max_iter or "
                "lower the rank"
            )
        th = theta[order]
        keep = th + self.shift > 10.0 * p * EPS * (top + self.shift)
        if self.shift == 0 and not keep.all() and self.rank == p:
            check_spectrum(float(th.min()), float(th.max()), 0.0, curvature.name, p)
        self.theta = th[keep]
        self.Q = vecs[[int(i) for i in order[keep]]]
        self.info["dropped"] = int((~keep).sum())
        if self.shift == 0 and self.rank < p:
            warn(
                f"the low-rank solver without damping keeps only the {self.rank} largest of {p} eigen-directions of "
                f"the {curvature.name} curvature and drops the gradients' components outside them: an approximation "
                f"(the Arnoldi influence), not the inverse. Pass rank={p} for the exact inverse, or damping > 0 to "
                "treat the rest as damping",
            )

    def solve(self, B: Any) -> Any:
        bk = self.bk
        C = B @ bk.swap(self.Q)
        inv = bk.asarray(1.0 / (self.theta + self.shift), like=C)
        X = (C * inv) @ self.Q
        if self.shift > 0:
            X = X + (B - C @ self.Q) * (1.0 / self.shift)
        return X


SOLVERS: dict[SolverKind, type[Solver]] = {
    SolverKind.DIRECT: DirectSolver,
    SolverKind.CG: CGSolver,
    SolverKind.LISSA: LissaSolver,
    SolverKind.LOWRANK: LowRankSolver,
}


def _check_on_failure(value: str) -> str:
    if value not in ("raise", "warn"):
        raise ValueError(f"on_failure={value!r} is not one of 'raise', 'warn'")
    return value


def make_solver(name: str | SolverKind, curvature: Curvature, shift: float, **options: Any) -> Solver:
    """The solver called ``name`` for ``curvature + shift I``; ``options`` go to its constructor.

    Parameters
    ----------
    name : {"direct", "cg", "lissa", "lowrank"}
        The solver.
    curvature : Curvature
        The curvature ``C``.
    shift : float
        The damping ``lambda``.
    **options
        Keyword arguments of the solver's class.

    Returns
    -------
    Solver
        The solver.
    """
    kind = as_enum(SolverKind, name, "solver")
    return SOLVERS[kind](curvature, shift, **options)
