"""Plots render headless: the Agg backend, and every figure closed after each test."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

import regdiag


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="session")
def savings():
    df = regdiag.datasets.load("LifeCycleSavings")
    return regdiag.ols("sr ~ pop15 + pop75 + dpi + ddpi", data=df)


@pytest.fixture(scope="session")
def savings_wls():
    df = regdiag.datasets.load("LifeCycleSavings")
    w = 1.0 + (df["pop75"] - df["pop75"].min()) * 0.8
    return regdiag.ols("sr ~ pop15 + pop75 + dpi + ddpi", data=df, weights=w.to_numpy())
