"""Small models written from scratch in numpy for testing the engine (none reuses regdiag's adapters).

- ``MultiOutputLinear``: ``f_i = W x_i`` with loss ``(y_i - f_i)' S_i (y_i - f_i) / 2`` (quadratic in ``W``).
- ``CanonicalGLM``: binomial-logit or Poisson-log regression with case weights, offset and an L2 penalty, fitted by
  Newton's method; ``loo_refit`` refits with one observation removed.
- ``TanhMLP``: one hidden tanh layer, biases, squared loss or softmax cross-entropy (two Kronecker blocks).
"""

from __future__ import annotations

import numpy as np

from regdiag.engine import Block

# --------------------------------------------------------------------------------------------------------------


class MultiOutputLinear:
    """``f = W x`` (``W`` of shape (k, d), row-major parameters), loss ``(y - f)' S_i (y - f)/2``, fitted exactly."""

    def __init__(self, X, Y, S=None, l2=0.0):
        self.X = np.asarray(X, float)
        self.Y = np.asarray(Y, float)
        n, d = self.X.shape
        k = self.Y.shape[1]
        self.S = np.broadcast_to(np.eye(k) if S is None else np.asarray(S, float), (n, k, k)).copy()
        self.n_obs, self.k, self.d = n, k, d
        self.n_params = k * d
        self.param_names = [f"W[{o},{j}]" for o in range(k) for j in range(d)]
        self.blocks = (Block("W", 0, k * d, shape=(k, d)),)
        self.n_outputs = k
        self.l2 = l2
        self.params = self._fit()

    def _fit(self, drop=None):
        keep = np.ones(self.n_obs, bool)
        if drop is not None:
            keep[drop] = False
        X, Y, S = self.X[keep], self.Y[keep], self.S[keep]
        # normal equations in vec(W) (row-major): sum_i S_i (x) x_i x_i' / n + l2 I
        H = np.einsum("iop,ij,il->ojpl", S, X, X).reshape(self.n_params, self.n_params) / self.n_obs
        rhs = np.einsum("iop,ip,ij->oj", S, Y, X).reshape(-1) / self.n_obs
        return np.linalg.solve(H + self.l2 * np.eye(self.n_params), rhs)

    def loo_params(self, i):
        return self._fit(drop=i)

    def _resid(self, rows):
        W = self.params.reshape(self.k, self.d)
        return self.Y[rows] - self.X[rows] @ W.T

    def loss_gradients(self, rows):
        r = np.einsum("iop,ip->io", self.S[rows], self._resid(rows))
        return -np.einsum("io,ij->ioj", r, self.X[rows]).reshape(len(r), -1)

    def hessian(self):
        return np.einsum("iop,ij,il->ojpl", self.S, self.X, self.X).reshape(self.n_params, self.n_params) / self.n_obs

    def hessian_factors(self, rows):
        w, Q = np.linalg.eigh(self.S[rows])
        R = Q * np.sqrt(np.clip(w, 0, None))[:, None, :]  # S = R R'
        U = np.einsum("ioc,ij->icoj", R, self.X[rows]).reshape(R.shape[0], self.k, -1)
        return U, np.ones((R.shape[0], self.k))

    def output_hessians(self, rows):
        return self.S[rows]

    def output_vjp(self, rows, V):
        return np.einsum("ico,ij->icoj", V, self.X[rows]).reshape(V.shape[0], V.shape[1], -1)

    def kron_factors(self, rows, V):
        return {"W": (self.X[rows], V)}

    def query_gradients(self, query, measurement="loss"):
        Xq, Yq = query
        W = self.params.reshape(self.k, self.d)
        r = Yq - Xq @ W.T
        return -np.einsum("io,ij->ioj", r, Xq).reshape(len(r), -1)


# --------------------------------------------------------------------------------------------------------------


def _sigmoid(t):
    return 0.5 * (1.0 + np.tanh(0.5 * t))


class CanonicalGLM:
    """Binomial (logit) or Poisson (log) regression; loss ``w_i * (negative log-likelihood)``; L2 penalty ``l2``."""

    def __init__(self, X, y, family="binomial", weights=None, offset=None, l2=0.0, names=None):
        self.X = np.asarray(X, float)
        self.y = np.asarray(y, float)
        self.n_obs, self.n_params = self.X.shape
        self.w = np.ones(self.n_obs) if weights is None else np.asarray(weights, float)
        self.offset = np.zeros(self.n_obs) if offset is None else np.asarray(offset, float)
        self.family = family
        self.l2 = l2
        self.param_names = list(names) if names is not None else [f"b{j}" for j in range(self.n_params)]
        self.n_outputs = 1
        self.params = self.newton(np.ones(self.n_obs, bool))

    def mean(self, eta):
        return _sigmoid(eta) if self.family == "binomial" else np.exp(eta)

    def nll(self, eta, y):
        if self.family == "binomial":
            return np.logaddexp(0.0, eta) - y * eta
        return np.exp(eta) - y * eta

    def newton(self, keep, start=None):
        X, y, w, off = self.X[keep], self.y[keep], self.w[keep], self.offset[keep]
        n = self.n_obs  # the other observations keep their weight 1/n when one is removed
        b = np.zeros(self.n_params) if start is None else start.copy()
        if start is None and self.family == "poisson":
            b[0] = np.log(np.average(y, weights=w) + 0.1)
        for _ in range(100):
            mu = self.mean(X @ b + off)
            g = X.T @ (w * (mu - y)) / n + self.l2 * b
            vw = w * (mu * (1 - mu) if self.family == "binomial" else mu)
            H = (X.T * vw) @ X / n + self.l2 * np.eye(self.n_params)
            step = np.linalg.lstsq(H, g, rcond=None)[0]
            b -= step
            if np.max(np.abs(step)) <= 1e-15 * (1 + np.max(np.abs(b))):
                break
        return b

    def loo_refit(self, i):
        keep = np.ones(self.n_obs, bool)
        keep[i] = False
        return self.newton(keep, start=self.params)

    def _mu(self, rows=slice(None)):
        return self.mean(self.X[rows] @ self.params + self.offset[rows])

    def _var(self, mu):
        return mu * (1 - mu) if self.family == "binomial" else mu

    def loss_gradients(self, rows):
        return (self.w[rows] * (self._mu(rows) - self.y[rows]))[:, None] * self.X[rows]

    def hessian(self):
        vw = self.w * self._var(self._mu())
        return (self.X.T * vw) @ self.X / self.n_obs

    def hessian_factors(self, rows):
        return self.X[rows, None, :], (self.w[rows] * self._var(self._mu(rows)))[:, None]

    def output_hessians(self, rows):
        return (self.w[rows] * self._var(self._mu(rows)))[:, None, None]

    def output_vjp(self, rows, V):
        return V * self.X[rows, None, :]

    def kron_factors(self, rows, V):
        return {"params": (self.X[rows], V)}

    @property
    def blocks(self):
        return (Block("params", 0, self.n_params, shape=(1, self.n_params)),)

    def query_gradients(self, query, measurement="loss"):
        Xq, yq = query
        return (self.mean(Xq @ self.params) - yq)[:, None] * Xq

    def query_loss(self, params, Xq, yq):
        return self.nll(Xq @ params, yq)


# --------------------------------------------------------------------------------------------------------------


class TanhMLP:
    """``f = W2 [tanh(W1 [x; 1]); 1]``; parameters ``vec(W1), vec(W2)`` row-major; squared loss or cross-entropy.

    Not fitted (the curvature tests need no optimum). ``forward(theta, x)`` is used for finite-difference Jacobians.
    """

    def __init__(self, X, Y, hidden=4, loss="mse", seed=0):
        rng = np.random.default_rng(seed)
        self.X = np.asarray(X, float)
        self.Y = np.asarray(Y, float)
        self.n_obs, self.d = self.X.shape
        self.k = self.Y.shape[1]
        self.h = hidden
        self.loss = loss
        self.s1 = (hidden, self.d + 1)
        self.s2 = (self.k, hidden + 1)
        p1, p2 = hidden * (self.d + 1), self.k * (hidden + 1)
        self.n_params = p1 + p2
        self.params = rng.standard_normal(self.n_params) * 0.7
        self.param_names = [f"t{j}" for j in range(self.n_params)]
        self.blocks = (Block("layer1", 0, p1, shape=self.s1), Block("layer2", p1, p1 + p2, shape=self.s2))
        self.n_outputs = self.k

    def _split(self, theta):
        p1 = self.s1[0] * self.s1[1]
        return theta[:p1].reshape(self.s1), theta[p1:].reshape(self.s2)

    def forward(self, theta, X):
        W1, W2 = self._split(theta)
        a1 = np.hstack([X, np.ones((len(X), 1))])
        z = a1 @ W1.T
        a2 = np.hstack([np.tanh(z), np.ones((len(X), 1))])
        return a1, z, a2, a2 @ W2.T

    def _out_grad_hess(self, f, Y):
        if self.loss == "mse":
            return f - Y, np.broadcast_to(np.eye(self.k), (len(f), self.k, self.k))
        p = np.exp(f - f.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        return p - Y, np.einsum("ij,jk->ijk", p, np.eye(self.k)) - np.einsum("ij,ik->ijk", p, p)

    def _backprop(self, rows, V):
        """Per layer: inputs and ``V`` (b, C, k) back-propagated to the layer's outputs."""
        _W1, W2 = self._split(self.params)
        a1, z, a2, _f = self.forward(self.params, self.X[rows])
        d2 = V
        d1 = np.einsum("bck,kh->bch", V, W2[:, : self.h]) * (1 - np.tanh(z) ** 2)[:, None, :]
        return {"layer1": (a1, d1), "layer2": (a2, d2)}

    def kron_factors(self, rows, V):
        return self._backprop(rows, V)

    def output_vjp(self, rows, V):
        F = self._backprop(rows, V)
        parts = [np.einsum("bco,bj->bcoj", d, a).reshape(V.shape[0], V.shape[1], -1) for a, d in F.values()]
        return np.concatenate(parts, axis=2)

    def output_hessians(self, rows):
        _, _, _, f = self.forward(self.params, self.X[rows])
        return np.array(self._out_grad_hess(f, self.Y[rows])[1])

    def loss_gradients(self, rows):
        _, _, _, f = self.forward(self.params, self.X[rows])
        g = self._out_grad_hess(f, self.Y[rows])[0]
        return self.output_vjp(rows, g[:, None, :])[:, 0, :]

    def fd_jacobians(self, eps=1e-6):
        """Output Jacobians ``(n, k, P)`` by central differences of ``forward`` (independent of the backprop)."""
        J = np.empty((self.n_obs, self.k, self.n_params))
        for j in range(self.n_params):
            e = np.zeros(self.n_params)
            e[j] = eps
            up, down = self.forward(self.params + e, self.X)[3], self.forward(self.params - e, self.X)[3]
            J[:, :, j] = (up - down) / (2 * eps)
        return J
