"""Cox plots: dfbeta index panels and martingale residuals against covariates (coordinates checked)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import regdiag
from regdiag import plots
from tests.reference_cases import ROOT


@pytest.fixture(scope="module")
def fit():
    d = pd.read_csv(ROOT / "tests" / "reference" / "coxph" / "data" / "ovarian.csv", index_col="row")
    return regdiag.coxph("Surv(futime, fustat) ~ age + ecog_ps + rx", d)


def test_dfbeta_index(fit):
    infl = fit.influence()
    disp = plots.cox_dfbeta_index(infl, n_labels=2)
    assert list(disp.panels_) == ["age", "ecog_ps", "rx"]
    age = disp.panels_["age"]
    np.testing.assert_allclose(age.data_["y"], infl.dfbeta_exact[:, 0] / fit.bse[0])
    np.testing.assert_allclose(age.data_["one_step"], fit.dfbetas[:, 0])
    # the labelled rows are those with the largest exact change
    top = fit.index[np.argsort(-np.abs(infl.dfbeta_exact[:, 0]))[:2]]
    assert set(age.labelled_) == set(top)
    assert plots.plot(infl, "dfbeta").panels_.keys() == disp.panels_.keys()
    with pytest.raises(ValueError, match="'dfbeta'"):
        plots.plot(infl, "cooks")


def test_one_step_only(fit):
    disp = plots.cox_dfbeta_index(fit.influence(loo=None))
    np.testing.assert_allclose(disp.panels_["rx"].data_["y"], fit.dfbetas[:, 2])
    assert "one_step" not in disp.panels_["rx"].data_


def test_martingale_covariates(fit):
    disp = plots.cox_martingale_covariates(fit, n_labels=1, columns=["age"])
    d = disp.panels_["age"].data_
    np.testing.assert_allclose(d["x"], fit.design.X[:, 0])
    np.testing.assert_allclose(d["y"], fit.resid_martingale)
    assert list(disp.panels_["age"].labelled_) == [fit.index[np.argmin(fit.resid_martingale)]]
    assert disp.panels_["age"].artists_["smoother"] is not None
    with pytest.raises(ValueError, match="not covariates"):
        plots.cox_martingale_covariates(fit, columns=["height"])
