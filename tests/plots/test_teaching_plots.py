"""The teaching plots draw the numbers of regdiag.linear.teaching (checked against R in
tests/linear/test_teaching.py)."""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

import regdiag
from regdiag import plots
from regdiag.linear import teaching


@pytest.fixture(scope="module")
def savings():
    return regdiag.ols("sr ~ pop15 + pop75 + dpi + ddpi", data=regdiag.datasets.load("LifeCycleSavings"))


@pytest.fixture(scope="module")
def quine():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return regdiag.glm("Days ~ Eth + Sex + Age + Lrn", data=regdiag.datasets.load("quine"), family="poisson")


def test_component_residual_draws_the_partial_residuals(savings, tmp_path):
    d = plots.component_residual(savings, n_labels=2)
    pr = teaching.partial_residuals(savings)
    assert list(d.panels_) == ["pop15", "pop75", "dpi", "ddpi"]
    for term, panel in d.panels_.items():
        np.testing.assert_array_equal(panel.data_["y"], pr[term])
        np.testing.assert_array_equal(panel.data_["x"], regdiag.datasets.load("LifeCycleSavings")[term])
        xs, ys = panel.artists_["line"].get_data()
        slope = (ys[1] - ys[0]) / (xs[1] - xs[0])
        assert slope == pytest.approx(savings.params[term], rel=1e-10)
        assert len(panel.labelled_) == 2
    d.savefig(tmp_path / "cr.png")


def test_component_residual_leaves_factors_out(quine):
    # quine's terms are all factors (of 2 to 4 levels): car draws them as box plots, not component + residual plots
    assert teaching.numeric_terms(quine) == []
    with pytest.raises(ValueError, match="no one-column term"):
        plots.component_residual(quine)
    duncan = regdiag.ols("prestige ~ income + education + type", data=regdiag.datasets.load("Duncan"))
    d = plots.component_residual(duncan)
    assert list(d.panels_) == ["income", "education"]
    np.testing.assert_array_equal(d.panels_["income"].data_["y"], teaching.partial_residuals(duncan)["income"])


@pytest.mark.parametrize("which", ["savings", "quine"])
def test_index_plot_draws_car_series(which, savings, quine):
    fit = savings if which == "savings" else quine
    d = plots.index_plot(fit, n_labels=2)
    vals = teaching.index_values(fit.influence())
    for name in ("cooks_distance", "student_resid", "bonferroni_p", "leverage"):
        np.testing.assert_array_equal(d.panels_[name].data_["y"], vals[name].dropna())
    # the labelled p-values are the smallest ones, and only those below 1
    p = vals["bonferroni_p"]
    lab = d.panels_["bonferroni_p"].labelled_
    assert all(p[lab] < 1) and list(lab) == list(p[p < 1].nsmallest(len(lab)).index)


def test_dffits_and_covratio_index_plots_use_r_cutoffs(savings):
    infl = savings.influence()
    p, n = infl.rank, infl.n_obs
    d = plots.dffits_index(savings)
    np.testing.assert_array_equal(d.data_["y"], infl.dffits)
    lines = {round(float(line.get_ydata()[0]), 12) for line in d.artists_["reference"].values()}
    assert round(3 * np.sqrt(p / (n - p)), 12) in lines and round(-2 * np.sqrt(p / n), 12) in lines
    c = plots.covratio_index(savings)
    np.testing.assert_array_equal(c.data_["y"], infl.cov_ratio)
    lines = sorted(float(line.get_ydata()[0]) for line in c.artists_["reference"].values())
    np.testing.assert_allclose(lines, [1 - 3 * p / (n - p), 1 + 3 * p / (n - p)])
    assert list(c.labelled_)[:2] == list((infl.to_frame()["cov_ratio"] - 1).abs().nlargest(2).index)


def test_potential_residual_plot(savings):
    d = plots.potential_residual(savings, n_labels=2)
    pr = teaching.potential_residual(savings.influence())
    np.testing.assert_array_equal(d.data_["y"], pr["potential"])
    np.testing.assert_array_equal(d.data_["x"], pr["residual"])
    assert list(d.labelled_) == list(pr["hadi"].nlargest(2).index)


@pytest.mark.parametrize("which", ["savings", "quine"])
def test_vif_panel_draws_car_vif(which, savings, quine, tmp_path):
    fit = savings if which == "savings" else quine
    d = plots.vif_panel(fit)
    pd.testing.assert_frame_equal(d.data_, teaching.vif(fit))
    widths = [b.get_width() for b in d.artists_["bars"]]
    np.testing.assert_allclose(widths, d.data_["GVIF^(1/(2*Df))"])
    d.savefig(tmp_path / "vif.png")


def test_deletion_simple_view_draws_both_exact_lines():
    cars = regdiag.ols("dist ~ speed", data=regdiag.datasets.load("cars"))
    infl = cars.influence()
    d = plots.deletion(cars)  # default: the row with the largest Cook's distance
    top = infl.index[int(np.argmax(infl.cooks_distance))]
    assert list(d.artists_["effect"].rows) == [top] and d.data_["deleted"].sum() == 1
    xs, ys = d.artists_["line_deleted"].get_data()
    b = np.asarray(infl.loo_params)[int(np.argmax(infl.cooks_distance))]  # OLS: exact leave-one-out
    np.testing.assert_allclose(ys, b[0] + b[1] * xs, rtol=1e-10)


def test_deletion_added_variable_view_of_a_group(quine):
    d = plots.deletion(quine, [5, 10])
    eff = d.artists_["effect"]
    assert list(eff.rows) == [5, 10] and d.data_["deleted"].sum() == 2
    j = list(eff.param_names).index(d.ax_.get_xlabel().replace(" | others", ""))
    xs, ys = d.artists_["line_deleted"].get_data()
    assert ys[1] / xs[1] == pytest.approx(eff.params_deleted[j], rel=1e-10)
