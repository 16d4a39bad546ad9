"""The influence engine on Cox models: gradients = -score residuals, curvature = I / n (regdiag.engine.CoxModel)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import regdiag
from regdiag._validation import ModelError
from regdiag.engine.model import CoxModel, ModelView, as_model
from tests.reference_cases import ROOT


@pytest.fixture(scope="module")
def fit():
    d = pd.read_csv(ROOT / "tests" / "reference" / "coxph" / "data" / "lung.csv", index_col="row")
    return regdiag.coxph("Surv(time, status) ~ age + sex + ph_ecog + ph_karno + wt_loss", d)


def test_protocol(fit):
    model = as_model(fit)
    assert isinstance(model, CoxModel)
    view = ModelView(model)
    G = view.loss_gradients(slice(0, fit.n_obs))
    # the gradients sum to minus the score: zero at the fit (relative to their size)
    assert np.abs(G.sum(axis=0)).max() < 1e-10 * np.abs(G).sum(axis=0).max()
    np.testing.assert_allclose(view.hessian() * fit.n_obs, fit.information, rtol=1e-15)


def test_engine_equals_r_one_step_dfbeta(fit):
    eng = regdiag.engine.influence(fit, "exact", "direct")
    scale = np.abs(fit.dfbeta).max(axis=0)
    assert np.max(np.abs(eng.dfbeta - fit.dfbeta) / scale) < 1e-12
    ld = np.einsum("ij,jk,ik->i", fit.dfbeta, fit.information, fit.dfbeta) / len(fit.coef)
    np.testing.assert_allclose(eng.cooks_distance, ld, rtol=1e-10)


def test_cross_check_table(fit):
    t = regdiag.cross_check(fit, curvatures=["exact"], solvers=["direct", "cg", "lowrank"])
    ok = t[t.correction == "none"]
    assert ok["agrees"].all()
    assert (ok.loc[ok.solver == "direct", "param_influence"] < 1e-12).all()
    # the one-step value is not the exact deletion: its error is reported
    assert (ok["exact_deletion"] > 1e-3).all()
    lev = t[t.correction == "leverage"]
    assert lev["status"].str.contains("hessian_factors").all()


def test_leverage_correction_is_refused_with_a_reason(fit):
    with pytest.raises(ModelError, match="hessian_factors"):
        regdiag.engine.influence(fit, "exact", "direct", correction="leverage")
