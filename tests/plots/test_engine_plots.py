"""Engine plots: estimate vs exact deletion, and curvatures compared."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import regdiag
import regdiag.engine
from regdiag import plots


def test_engine_vs_exact_with_leverage_correction_is_on_the_line(savings):
    est = regdiag.engine.influence(savings, "exact", correction="leverage")
    disp = plots.engine_vs_exact(est, savings.influence())
    assert isinstance(disp, plots.Display)
    np.testing.assert_allclose(disp.data_["y"], disp.data_["x"], rtol=1e-9, atol=1e-12)
    assert disp.artists_["discrepancy"] < 1e-9
    x, y = disp.artists_["identity"].get_data()
    assert list(x) == list(y)
    assert set(disp.data_["coefficient"]) == set(savings.param_names)
    assert len(disp.data_) == 50 * 5


def test_engine_vs_exact_without_correction_is_one_minus_h_times_exact(savings_wls):
    """Theory: the plain influence-function estimate of OLS/WLS is (1 - h_i) times exact deletion."""
    est = regdiag.engine.influence(savings_wls, "gauss_newton", correction="none")
    disp = plots.engine_vs_exact(est, savings_wls.influence())
    h = pd.Series(savings_wls.influence().leverage, index=savings_wls.index)
    one_minus_h = 1 - h.loc[disp.data_.index].to_numpy()
    np.testing.assert_allclose(disp.data_["y"], one_minus_h * disp.data_["x"], rtol=1e-9, atol=1e-12)
    # x is minus the closed-form DFBETA in standard errors
    infl = savings_wls.influence()
    se = infl.sigma * np.sqrt(infl.cov_unscaled_diag)
    pop15 = disp.data_[disp.data_["coefficient"] == "pop15"]
    np.testing.assert_allclose(pop15["x"], -infl.dfbeta[:, 1] / se[1], rtol=1e-12)
    assert disp.artists_["discrepancy"] > 0.1
    assert any("expect (1 - h)" in t.get_text() for t in disp.ax_.texts)


def test_engine_vs_exact_labels_most_moved_rows(savings):
    est = regdiag.engine.influence(savings, "kfac", correction="leverage")
    disp = plots.engine_vs_exact(est, savings.influence(), n_labels=2)
    infl = savings.influence()
    se = infl.sigma * np.sqrt(infl.cov_unscaled_diag)
    biggest = pd.Series(np.max(np.abs(infl.dfbeta / se), axis=1), index=savings.index)
    assert list(disp.labelled_) == list(biggest.sort_values(ascending=False).index[:2])


def test_engine_vs_exact_needs_a_closed_form(savings):
    est = regdiag.engine.influence(savings, "exact")
    with pytest.raises(ValueError, match="pass exact="):
        plots.engine_vs_exact(est)


def test_engine_vs_exact_draws_the_numbers_it_is_given(savings):
    from regdiag.engine.comparison import compare_with_exact

    est = regdiag.engine.influence(savings, "kfac", correction="leverage")
    values = compare_with_exact(est, savings.influence())
    a = plots.engine_vs_exact(values)
    b = plots.engine_vs_exact(est, savings)
    pd.testing.assert_frame_equal(a.data_, b.data_)
    assert a.artists_["discrepancy"] == b.artists_["discrepancy"]
    with pytest.raises(TypeError, match="mapping"):
        plots.curvature_comparison(savings)


def test_curvature_comparison_panels(savings):
    runs = {c: regdiag.engine.influence(savings, c, "direct", correction="leverage")
            for c in ("exact", "kfac", "ekfac", "diagonal")}
    disp = plots.curvature_comparison(runs, exact=savings.influence())
    assert list(disp.panels_) == ["exact", "kfac", "ekfac", "diagonal"]
    for name in ("exact", "kfac", "ekfac"):  # all equal X'WX for OLS: exact with the leverage correction
        assert disp.panels_[name].artists_["discrepancy"] < 1e-8
    assert disp.panels_["diagonal"].artists_["discrepancy"] > 0.1
    runs = {"a": regdiag.engine.influence(savings, "exact"), "b": regdiag.engine.influence(savings, "identity")}
    assert list(plots.curvature_comparison(runs, exact=savings).panels_) == ["a", "b"]
