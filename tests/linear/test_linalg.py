"""The LAPACK layer against 50-digit references: extended-precision residuals, refinement, accurate eigenvectors."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest

import regdiag
from regdiag.linalg import extended_residual, psd_eigh


def test_extended_residual_is_double_double_accurate():
    rng = np.random.default_rng(0)
    n, k = 150, 6
    X = rng.standard_normal((n, k)) * np.logspace(0, 4, k) + 50
    y = X @ rng.standard_normal(k) + 1e-6 * rng.standard_normal(n)
    cs = 2.0 ** -np.arange(k)
    w = np.sqrt(rng.uniform(0.5, 2, n))
    A, b = (X * cs) * w[:, None], y * w  # formed in double precision, as the function does
    x = np.linalg.lstsq(A, b, rcond=None)[0]
    r = b - A @ x
    r_lo, x_lo = rng.standard_normal(n) * 1e-20, rng.standard_normal(k) * 1e-22
    f, g = extended_residual(X, cs, w, y, x, r, r_lo, x_lo)
    with mp.workdps(60):
        Am = [[mp.mpf(v) for v in row] for row in A]
        xs = [mp.mpf(x[j]) + mp.mpf(x_lo[j]) for j in range(k)]
        rs = [mp.mpf(r[i]) + mp.mpf(r_lo[i]) for i in range(n)]
        f_ref = [mp.mpf(b[i]) - rs[i] - mp.fsum(Am[i][j] * xs[j] for j in range(k)) for i in range(n)]
        g_ref = [-mp.fsum(Am[i][j] * rs[i] for i in range(n)) for j in range(k)]
        f_err = np.array([float(abs(f_ref[i] - mp.mpf(f[i]))) for i in range(n)])
        g_err = np.array([float(abs(g_ref[j] - mp.mpf(g[j])) / abs(g_ref[j])) for j in range(k)])
    # f cancels ~20 orders of magnitude: its error is at double-double level relative to the terms' size
    scale = np.abs(b) + np.abs(r) + np.abs(A) @ np.abs(x)
    assert (f_err / scale).max() < 1e-30
    assert g_err.max() < 1e-15


def test_mildly_conditioned_good_fit_refines_in_one_pass():
    """Predictors far from zero and a good fit call for refinement of the residuals; one extended pass suffices,
    and the result agrees with the 50-digit solution."""
    rng = np.random.default_rng(1)
    n = 400
    X = np.column_stack([np.ones(n), 50 + rng.standard_normal((n, 3))])
    y = X @ [1.0, 2.0, -1.0, 0.5] + 0.5 * rng.standard_normal(n)
    fit = regdiag.ols(y, X)
    assert fit.refine_steps == 1
    with mp.workdps(50):
        Xm, ym = mp.matrix(X.tolist()), mp.matrix(y.tolist())
        beta = mp.lu_solve(Xm.T * Xm, Xm.T * ym)
        ref = np.array([float(v) for v in beta])
    np.testing.assert_allclose(fit.coef, ref, rtol=1e-14, atol=0)


@pytest.mark.parametrize("seed", range(4))
def test_psd_eigh_is_accurate_for_badly_scaled_gram_matrices(seed):
    """Solving with the eigendecomposition of a Gram matrix whose columns differ in size by 1e5 (cond ~ 1e8 to
    1e10): far more accurate than cond(A) * eps, which numpy's eigh gives (1e-8 to 6e-5 on these four)."""
    rng = np.random.default_rng(seed)
    n, p = 60, 6
    X = rng.standard_normal((n, p)) * np.logspace(0, 5, p)[rng.permutation(p)]
    X[:, 0] = 1.0
    A = X.T @ X / n
    b = X[3] * 2.5
    e, Q = psd_eigh(A)
    assert np.all(np.diff(e) >= 0) and e[0] > 0
    np.testing.assert_allclose(Q.T @ Q, np.eye(p), atol=1e-14)
    with mp.workdps(50):
        ref = mp.lu_solve(mp.matrix(A.tolist()), mp.matrix(b.tolist()))
        ref = np.array([float(v) for v in ref])
    sol = Q @ ((Q.T @ b) / e)
    assert np.max(np.abs(sol - ref) / np.abs(ref)) < 1e-9


def test_psd_eigh_falls_back_on_singular_matrices():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 3))
    X = np.column_stack([X, X[:, 0] + X[:, 1]])
    e, Q = psd_eigh(X.T @ X)
    assert e.min() >= 0 and e[0] < 1e-12 * e[-1]
    np.testing.assert_allclose(Q @ np.diag(e) @ Q.T, X.T @ X, atol=1e-12 * np.abs(X.T @ X).max())


@pytest.mark.parametrize("s", [1e-4, 1e-8, 1e-12])
def test_psd_eigh_handles_graded_matrices(s):
    """D M D with M well conditioned and D = diag(1, s, 1/s): pivoted Cholesky of the equilibrated matrix keeps it
    full rank, and the solve is accurate to rounding."""
    rng = np.random.default_rng(0)
    M = rng.standard_normal((3, 3))
    M = M @ M.T + np.eye(3)
    D = np.diag([1.0, s, 1.0 / s])
    A, b = D @ M @ D, rng.standard_normal(3)
    e, Q = psd_eigh(A)
    with mp.workdps(60):
        ref = np.array([float(v) for v in mp.lu_solve(mp.matrix(A.tolist()), mp.matrix(b.tolist()))])
    assert np.max(np.abs(Q @ ((Q.T @ b) / e) - ref) / np.abs(ref)) < 1e-13
