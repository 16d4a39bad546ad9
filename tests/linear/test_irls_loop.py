"""The Fisher-scoring loop shared by the in-memory and the Dask GLM fits (regdiag.linear.glm_irls.irls_loop)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import regdiag
from regdiag._validation import ConvergenceError
from regdiag.linear.glm_irls import MAX_HALVINGS, IRLSEvaluation, IRLSStep, irls_loop


class _Quadratic:
    """Newton steps on ``D(b) = sum (b - target)^2``, the first one ``overshoot`` times too long, a domain
    ``b < limit`` in which the deviance is valid, and a record of what the loop asked."""

    def __init__(self, target: np.ndarray, overshoot: float = 1.0, limit: float = math.inf) -> None:
        self.target, self.overshoot, self.limit = target, overshoot, limit
        self.current = None
        self.evaluations = 0
        self.accepted = 0

    def deviance(self, b: np.ndarray) -> float:
        return float(np.sum((b - self.target) ** 2))

    def solve(self, beta, it):
        b = self.current if beta is None else beta
        scale = self.overshoot if it == 1 else 1.0
        return IRLSStep(d=scale * (self.target - b), diag_inv=np.ones_like(b), phi=1.0, cond=1.0, beta=beta)

    def evaluate(self, beta, it):
        self.evaluations += 1
        return IRLSEvaluation(deviance=self.deviance(beta), valid=bool(np.all(beta < self.limit)), state=beta)

    def accept(self, evaluation):
        self.current = evaluation.state
        self.accepted += 1

    def preliminary_done(self):  # every step here is a final (QR-like) step
        raise AssertionError("not called for steps with a condition number")

    def halving_failed(self, error):
        return False

    def stop_after(self, it, converged):
        return False


def test_newton_on_a_quadratic_converges_at_the_second_step():
    target = np.array([1.0, -2.0, 3.0])
    steps = _Quadratic(target)
    start = np.zeros(3)
    steps.current = start
    out = irls_loop(steps, start, steps.deviance(start), tol=1e-12, maxit=10)
    assert out.converged and out.iterations == 2 and not out.halving_failed
    np.testing.assert_array_equal(out.beta, target)
    assert out.trace == [14.0, 0.0, 0.0] and steps.accepted == 2


def test_steps_that_raise_the_deviance_or_leave_the_domain_are_halved():
    target = np.array([1.0, 1.0])
    steps = _Quadratic(target, overshoot=3.0)  # the first full step lands at 3 x target: deviance 4x, rejected
    start = np.zeros(2)
    steps.current = start
    out = irls_loop(steps, start, steps.deviance(start), tol=1e-12, maxit=20)
    # halved once (to 1.5 x target, deviance / 4), then exact steps; convergence only on a full step's test
    assert out.converged and out.iterations == 3
    np.testing.assert_array_equal(out.beta, target)
    assert out.trace == [2.0, 0.5, 0.0, 0.0] and steps.evaluations == 4

    stuck = _Quadratic(np.array([5.0]), limit=-1.0)  # no step from 0 stays in the domain b < -1
    stuck.current = np.zeros(1)
    with pytest.raises(ConvergenceError, match=f"{MAX_HALVINGS} halvings"):
        irls_loop(stuck, np.zeros(1), stuck.deviance(np.zeros(1)), maxit=5)


def test_convergence_is_relative_to_the_problem_not_to_its_units():
    rng = np.random.default_rng(4)
    x = rng.standard_normal(200)
    y = rng.poisson(np.exp(0.4 + 0.5 * x)).astype(float)
    X = np.column_stack([np.ones(200), x])
    # powers of two: the scaled problems are the same in floating point, so an absolute step rule would stop them
    # at different iterations (coefficients 2^20 times larger or smaller); the relative rule does not
    scales = (1.0, 2.0**-20, 2.0**20)
    fits = [regdiag.glm(y, X * np.array([1.0, s]), family="poisson") for s in scales]
    assert len({f.iterations for f in fits}) == 1
    for f, s in zip(fits[1:], scales[1:]):
        np.testing.assert_allclose(f.coef * np.array([1.0, s]), fits[0].coef, rtol=1e-12)
