"""NIST StRD linear regression: log relative error (correct digits) of the coefficients against NIST's certified
values, and of leverage and Cook's distance against a 50-digit mpmath reference computed here on the same
double-precision data.

Targets (R's lm reaches Longley 13.0, Pontius 12.7, Wampler5 5.5, Filip 0):
coefficients >= 13 on every set but Filip, Filip >= 7.5; leverage >= 12, Filip >= 6; Cook's distance >= 10.5,
Filip >= 4.5. Wampler1 and Wampler2 are exact fits (certified residual SD 0): Cook's distance is NaN there, with a
warning, rather than rounding noise.
"""

from __future__ import annotations

import warnings

import mpmath as mp
import numpy as np
import pytest

import regdiag

NAMES = ["Norris", "Pontius", "NoInt1", "NoInt2", "Filip", "Longley"] + [f"Wampler{i}" for i in range(1, 6)]
DEGREE = {"Norris": 1, "Pontius": 2, "Filip": 10}


def nist_design(name):
    df = regdiag.datasets.load(name)
    y = df["y"].to_numpy(dtype=float)
    if name == "Longley":
        X = np.column_stack([np.ones(len(y)), df.drop(columns="y").to_numpy(dtype=float)])
    elif name.startswith("NoInt"):
        X = df[["x"]].to_numpy(dtype=float)
    else:
        x = df["x"].to_numpy(dtype=float)
        X = np.column_stack([x**k for k in range(DEGREE.get(name, 5) + 1)])
    return X, y


def lre(est, ref):
    est, ref = np.asarray(est, dtype=float), np.asarray(ref, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        err = np.where(ref != 0, np.abs(est - ref) / np.abs(ref), np.abs(est - ref))
    return np.minimum(-np.log10(np.maximum(err, 1e-300)), 15.0)


def mp_reference(X, y):
    """Leverage and Cook's distance of the double-precision data, in 50-digit arithmetic (normal equations are
    harmless at this precision: cond(X)^2 < 1e30)."""
    with mp.workdps(50):
        Xm = mp.matrix([[mp.mpf(float(v)) for v in row] for row in X])
        ym = mp.matrix([mp.mpf(float(v)) for v in y])
        n, p = Xm.rows, Xm.cols
        inv = (Xm.T * Xm) ** -1
        beta = inv * (Xm.T * ym)
        e = [ym[i] - (Xm[i, :] * beta)[0] for i in range(n)]
        h = [(Xm[i, :] * inv * Xm[i, :].T)[0] for i in range(n)]
        s2 = sum(v**2 for v in e) / (n - p)
        cook = [e[i] ** 2 * h[i] / (p * s2 * (1 - h[i]) ** 2) for i in range(n)]
        return np.array([float(v) for v in h]), np.array([float(v) for v in cook])


TARGET_COEF = {"Filip": 7.5}
TARGET_LEV = {"Filip": 6.0}
TARGET_COOK = {"Filip": 4.5}


@pytest.mark.parametrize("name", NAMES)
def test_lre_targets(name):
    X, y = nist_design(name)
    cert = regdiag.datasets.nist_certified(name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = regdiag.ols(y, X)
        infl = fit.influence()
    coef_lre = lre(fit.coef, cert["certified_coefficients"]).min()
    assert coef_lre >= TARGET_COEF.get(name, 13.0), coef_lre
    href, cref = mp_reference(X, y)
    assert lre(infl.leverage, href).min() >= TARGET_LEV.get(name, 12.0)
    kinds = {type(w.message) for w in caught}
    if name in ("Wampler1", "Wampler2"):
        assert fit.perfect_fit
        assert np.isnan(infl.cooks_distance).all() and np.isnan(infl.student_resid).all()
        assert regdiag.InfluenceWarning in kinds
    else:
        assert lre(infl.cooks_distance, cref).min() >= TARGET_COOK.get(name, 10.5)
    if name == "Filip":
        msg = [str(w.message) for w in caught if w.category is regdiag.ConditioningWarning]
        assert msg and "condition number" in msg[0]
    else:
        assert regdiag.ConditioningWarning not in kinds
    # standard errors: no stated target, but they must carry most digits
    assert lre(fit.bse.to_numpy(), cert["certified_standard_deviations"]).min() >= (8.0 if name == "Filip" else 12.0)


def test_filip_full_rank_and_exact_collinearity_caught():
    X, y = nist_design("Filip")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", regdiag.ConditioningWarning)
        assert regdiag.ols(y, X).rank == 11
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((200, 3))
    Z = np.column_stack([Z, Z[:, 0] * 0.3 + Z[:, 1] * 1e3])
    fit = regdiag.ols(Z @ [1, 2, 3, 0] + rng.standard_normal(200), Z)
    assert fit.rank == 3 and fit.aliased == ("x4",)
