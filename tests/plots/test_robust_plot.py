"""The robustness weights plot."""

from __future__ import annotations

import numpy as np
import pytest

import regdiag
from regdiag import plots


def test_weights_plot_shows_the_fit_weights():
    fit = regdiag.rlm("stack_loss ~ Air_Flow + Water_Temp + Acid_Conc", data=regdiag.datasets.load("stackloss"),
                      psi="bisquare")
    infl = fit.influence(loo="one-step")
    disp = plots.weights_plot(infl, n_labels=2)
    np.testing.assert_allclose(disp.data_["x"], fit.u)
    np.testing.assert_allclose(disp.data_["y"], fit.weights)
    # the two smallest weights are labelled
    assert list(disp.labelled_) == list(fit.index[np.argsort(fit.weights)[:2]])
    x, y = disp.artists_["curve"].get_data()
    np.testing.assert_allclose(y, fit.psi.weight(x))
    assert plots.plot(fit, "weights").ax_ is not None  # the plot by name draws this one


def test_weights_plot_refuses_other_fits():
    fit = regdiag.ols("sr ~ pop15", data=regdiag.datasets.load("LifeCycleSavings"))
    with pytest.raises(TypeError, match="robust fits"):
        plots.weights_plot(fit)
