"""The diagnostic plots: expected artists, labels from the row index, coordinates checked against independent
computations (statsmodels, numpy least squares), no refitting, and headless rendering."""

from __future__ import annotations

import subprocess
import sys
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.outliers_influence import OLSInfluence

import regdiag
from regdiag import plots

SINGLE = [
    plots.residuals_fitted,
    plots.qq,
    plots.half_normal,
    plots.scale_location,
    plots.cooks_index,
    plots.residuals_leverage,
    plots.cooks_leverage,
    plots.influence_bubble,
]
PANELS = [plots.dfbetas_panel, plots.added_variable, plots.overview]


@pytest.fixture(scope="module")
def sm_savings():
    df = regdiag.datasets.load("LifeCycleSavings")
    X = sm.add_constant(df[["pop15", "pop75", "dpi", "ddpi"]])
    return OLSInfluence(sm.OLS(df["sr"], X).fit())


def _texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def _top(values: pd.Series, k: int) -> list[str]:
    return list(values.abs().sort_values(ascending=False, kind="stable").index[:k])


def test_import_regdiag_does_not_import_matplotlib():
    code = "import sys, regdiag; regdiag.ols; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.parametrize("plot", SINGLE, ids=lambda f: f.__name__)
def test_single_plots_return_display_and_render(plot, savings, tmp_path):
    disp = plot(savings)
    assert isinstance(disp, plots.Display)
    assert disp.figure_ is disp.ax_.figure
    assert set(disp.labelled_) <= set(savings.index)
    assert set(disp.data_.index) <= set(savings.index) and {"x", "y"} <= set(disp.data_.columns)
    for label in disp.labelled_:  # each label written on the axes
        assert label in _texts(disp.ax_)
    disp.savefig(tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 5000


@pytest.mark.parametrize("plot", SINGLE, ids=lambda f: f.__name__)
def test_single_plots_draw_into_given_axes(plot, savings):
    fig, axes = plt.subplots(1, 2)
    disp = plot(savings.influence(), ax=axes[1])
    assert disp.ax_ is axes[1] and disp.figure_ is fig
    assert len(axes[0].collections) == 0 and len(axes[0].lines) == 0


@pytest.mark.parametrize("plot", SINGLE + PANELS, ids=lambda f: f.__name__)
def test_plots_never_refit(plot, savings, monkeypatch):
    infl = savings.influence()

    def boom(*args, **kwargs):
        raise AssertionError("a plot refitted the model")

    import regdiag.linalg
    import regdiag.linear.ols as ols_mod

    for mod in (regdiag.linalg, ols_mod):
        for name in ("qr_factor", "lstsq", "fit_design"):
            if hasattr(mod, name):
                monkeypatch.setattr(mod, name, boom)
    monkeypatch.setattr(type(savings), "influence", boom)
    plot(infl)


@pytest.mark.parametrize("k", [0, 1, 5])
def test_number_of_labels_is_configurable(savings, k):
    disp = plots.cooks_index(savings, n_labels=k)
    assert len(disp.labelled_) == k
    assert list(disp.labelled_) == _top(pd.Series(savings.influence().cooks_distance, index=savings.index), k)


def test_labels_are_the_most_extreme_rows_by_an_independent_computation(savings, sm_savings):
    idx = savings.index
    t = pd.Series(sm_savings.resid_studentized_external, index=idx)
    d = pd.Series(sm_savings.cooks_distance[0], index=idx)
    resid = pd.Series(sm_savings.resid, index=idx)
    assert list(plots.residuals_fitted(savings).labelled_) == _top(resid, 3)
    # R's plot(lm) labels the same three: Zambia, Chile, Philippines
    assert list(plots.residuals_fitted(savings).labelled_) == ["Zambia", "Chile", "Philippines"]
    assert list(plots.qq(savings, envelope=False).labelled_) == _top(t, 3)
    assert list(plots.residuals_leverage(savings).labelled_) == _top(d, 3) == ["Libya", "Japan", "Zambia"]
    h = pd.Series(sm_savings.hat_matrix_diag, index=idx)
    expected = list(dict.fromkeys(_top(h, 2) + _top(t, 2) + _top(d, 2)))
    assert list(plots.influence_bubble(savings).labelled_) == expected


def test_residuals_fitted_coordinates(savings, sm_savings):
    disp = plots.residuals_fitted(savings)
    res = sm_savings.results
    np.testing.assert_allclose(disp.data_["x"], res.fittedvalues, rtol=1e-12)
    np.testing.assert_allclose(disp.data_["y"], res.resid, rtol=1e-10, atol=1e-12)
    assert disp.artists_["smoother"] is not None and disp.artists_["reference"].get_ydata()[0] == 0


def test_residuals_leverage_has_cooks_contours_at_half_and_one(savings, sm_savings):
    disp = plots.residuals_leverage(savings)
    assert sorted(disp.artists_["contours"]) == [0.5, 1.0]
    p = 5
    for level, (up, lo) in disp.artists_["contours"].items():
        h = up.get_xdata()
        np.testing.assert_allclose(up.get_ydata(), np.sqrt(level * p * (1 - h) / h), rtol=1e-12)
        np.testing.assert_allclose(lo.get_ydata(), -up.get_ydata())
    # the points sit at (leverage, standardized residual); each point's Cook's D matches its contour position
    np.testing.assert_allclose(disp.data_["x"], sm_savings.hat_matrix_diag, rtol=1e-12)
    np.testing.assert_allclose(disp.data_["y"], sm_savings.resid_studentized_internal, rtol=1e-10)
    assert "0.5" in _texts(disp.ax_) and "1" in _texts(disp.ax_)


def test_cooks_leverage_lines_are_equal_standardized_residual(savings):
    disp = plots.cooks_leverage(savings)
    infl = savings.influence()
    assert disp.artists_["contours"]
    for r, line in disp.artists_["contours"].items():
        x, y = line.get_xdata(), line.get_ydata()
        np.testing.assert_allclose(y[1] / x[1], r**2 / infl.rank)
    h = infl.leverage
    np.testing.assert_allclose(disp.data_["x"], h / (1 - h))


def test_cooks_index_reference_lines(savings):
    disp = plots.cooks_index(savings)
    refs = disp.artists_["reference"]
    assert list(refs) == ["4/n"]  # F(5, 45) median is 0.88, above the largest D: noted, not drawn
    assert refs["4/n"].get_ydata()[0] == pytest.approx(4 / 50)
    assert any("F(5, 45) median = 0.883" in t for t in _texts(disp.ax_))
    np.testing.assert_array_equal(disp.data_["x"], np.arange(1, 51))


def test_influence_bubble_reference_lines_and_sizes(savings, sm_savings):
    disp = plots.influence_bubble(savings)
    refs = disp.artists_["reference"]
    assert refs["2p/n"].get_xdata()[0] == pytest.approx(2 * 5 / 50)
    assert refs["3p/n"].get_xdata()[0] == pytest.approx(3 * 5 / 50)
    for v in (-2, 0, 2):
        assert refs[f"t={v}"].get_ydata()[0] == v
    d = sm_savings.cooks_distance[0]
    # area proportional to Cook's distance (floored at a visible minimum)
    np.testing.assert_allclose(disp.data_["size"], np.maximum(600 * d / d.max(), 4.0), rtol=1e-10)
    np.testing.assert_allclose(disp.artists_["points"].get_sizes(), disp.data_["size"])


def test_qq_quantiles_are_t_with_n_minus_p_minus_1_df(savings, sm_savings):
    disp = plots.qq(savings, envelope=False)
    t = np.sort(sm_savings.resid_studentized_external)
    np.testing.assert_allclose(disp.data_["y"], t, rtol=1e-10)
    n = 50
    ppoints = (np.arange(1, n + 1) - 0.5) / n
    np.testing.assert_allclose(disp.data_["x"], stats.t.ppf(ppoints, 50 - 5 - 1), rtol=1e-12)
    assert disp.ax_.get_xlabel() == "t quantiles (df = 44)"
    assert "envelope" not in disp.artists_


def test_qq_envelope_band_is_drawn_and_reproducible(savings):
    a = plots.qq(savings, nsim=99, rng=3).artists_["envelope_data"]
    b = plots.qq(savings, nsim=99, rng=3).artists_["envelope_data"]
    np.testing.assert_array_equal(a.lower, b.lower)
    assert a.nsim == 99 and np.all(a.lower <= a.median) and np.all(a.median <= a.upper)
    assert np.all(np.diff(a.median) >= 0)  # medians of order statistics increase


def test_envelope_projection_equals_refitting_simulated_responses_with_the_weights(savings_wls):
    """The shortcut (project simulated errors with the fit's Q) = simulate y from the WLS model and refit it."""
    from regdiag.linear.envelope import linear_student_from_draws

    fit = savings_wls
    infl = fit.influence()
    w = fit.design.weights
    X = fit.design.X
    rng = np.random.default_rng(11)
    Z = rng.standard_normal((50, 4))
    got = linear_student_from_draws(np.asarray(fit.factor.q), infl.leverage, infl.df_resid, Z)
    mean = X @ fit.coef
    for k in range(Z.shape[1]):
        y_sim = mean + infl.sigma * Z[:, k] / np.sqrt(w)  # errors with variance sigma^2 / w
        refit = regdiag.ols(y_sim, X, weights=w).influence()
        np.testing.assert_allclose(got[:, k], refit.student_resid, rtol=1e-9, atol=1e-12)
        # ignoring the weights gives different residuals: the test can fail
        unweighted = regdiag.ols(y_sim, X).influence().student_resid
        assert np.max(np.abs(unweighted - refit.student_resid)) > 0.05


def test_envelope_covers_the_data_distribution(savings_wls):
    """Residuals of data simulated from the WLS model fall inside the 95% pointwise band about 95% of the time."""
    from regdiag.linear.envelope import envelope, linear_student_from_draws

    fit = savings_wls
    infl = fit.influence()
    env = envelope(infl, 50, nsim=399, rng=1)
    Z = np.random.default_rng(2).standard_normal((50, 400))
    T = np.sort(linear_student_from_draws(np.asarray(fit.factor.q), infl.leverage, infl.df_resid, Z), axis=0)
    inside = (T >= env.lower[:, None]) & (T <= env.upper[:, None])
    assert 0.92 < inside.mean() < 0.975


def test_zero_weight_and_leverage_one_rows_are_left_out(savings):
    df = regdiag.datasets.load("LifeCycleSavings")
    w = np.ones(len(df))
    w[[3, 7]] = 0.0
    df = df.assign(dummy=0.0)
    df.loc["Libya", "dummy"] = 1.0  # a dummy for one row: leverage 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = regdiag.ols("sr ~ pop15 + pop75 + dpi + ddpi + dummy", data=df, weights=w)
        infl = fit.influence()
    for plot in SINGLE:
        disp = plot(infl)
        # its residual is defined (0; R's plot.lm panel 1 shows it too); every studentized measure is not
        assert ("Libya" in disp.data_.index) == (plot is plots.residuals_fitted)
        assert df.index[3] not in disp.data_.index and df.index[7] not in disp.data_.index
    disp = plots.cooks_index(infl)
    assert list(disp.omitted_) == ["Libya"]
    assert any("not shown" in t and "Libya" in t for t in _texts(disp.ax_))
    q = plots.qq(infl, nsim=19)
    assert len(q.data_) == 50 - 3


def test_added_variable_residuals_equal_regressions_on_the_other_columns(savings_wls):
    fit = savings_wls
    X, y, w = fit.design.X, fit.design.y, fit.design.weights
    sw = np.sqrt(w)
    for j, name in enumerate(fit.param_names[1:], start=1):
        av = plots.added_variable_residuals(fit, name)
        others = np.delete(X, j, axis=1) * sw[:, None]
        ex = X[:, j] * sw - others @ np.linalg.lstsq(others, X[:, j] * sw, rcond=None)[0]
        ey = y * sw - others @ np.linalg.lstsq(others, y * sw, rcond=None)[0]
        np.testing.assert_allclose(av["x"], ex, rtol=1e-8, atol=1e-10 * np.abs(ex).max())
        np.testing.assert_allclose(av["y"], ey, rtol=1e-8, atol=1e-10 * np.abs(ey).max())
        slope = (av["x"] @ av["y"]) / (av["x"] @ av["x"])
        assert slope == pytest.approx(fit.coef[j], rel=1e-9)


def test_added_variable_panel(savings):
    disp = plots.added_variable(savings)
    assert list(disp.panels_) == ["pop15", "pop75", "dpi", "ddpi"]  # no intercept
    line = disp.panels_["pop15"].artists_["line"]
    x, y = line.get_xdata(), line.get_ydata()
    assert (y[1] - y[0]) / (x[1] - x[0]) == pytest.approx(savings.coef[1])
    dfbs = pd.Series(savings.influence().dfbetas[:, 1], index=savings.index)
    assert list(disp.panels_["pop15"].labelled_) == _top(dfbs, 2)
    assert disp.axes_.shape == (2, 3) and not disp.axes_[1, 2].axison


def test_dfbetas_panel_reference_lines(savings, sm_savings):
    disp = plots.dfbetas_panel(savings, n_labels=1)
    assert list(disp.panels_) == list(savings.param_names)
    n = 50
    for j, (_name, panel) in enumerate(disp.panels_.items()):
        refs = panel.artists_["reference"]
        assert refs["+2/sqrt(n)"].get_ydata()[0] == pytest.approx(2 / np.sqrt(n))
        assert refs["-2/sqrt(n)"].get_ydata()[0] == pytest.approx(-2 / np.sqrt(n))
        assert refs["+1"].get_ydata()[0] == 1 and refs["-1"].get_ydata()[0] == -1
        np.testing.assert_allclose(panel.data_["y"], sm_savings.dfbetas[:, j], rtol=1e-9)
        assert list(panel.labelled_) == _top(pd.Series(sm_savings.dfbetas[:, j], index=savings.index), 1)
    assert list(plots.dfbetas_panel(savings, terms=["ddpi"]).panels_) == ["ddpi"]
    with pytest.raises(ValueError, match="no coefficient named 'nope'"):
        plots.dfbetas_panel(savings, terms="nope")


def test_panels_accept_one_axes_or_an_array(savings):
    fig, (_a, b) = plt.subplots(1, 2, figsize=(12, 5))
    disp = plots.dfbetas_panel(savings, ax=b)
    assert disp.figure_ is fig and not b.axison and disp.axes_.size == 6
    _fig2, axes = plt.subplots(2, 2)
    over = plots.overview(savings, ax=axes, envelope=False)
    assert over.axes_ is not None and over.panels_["qq"].ax_ is axes[0, 1]
    with pytest.raises(ValueError, match="needs 4 axes"):
        plots.overview(savings, ax=axes.ravel()[:3])


def test_overview_is_the_2x2_of_plot_lm(savings, tmp_path):
    disp = plots.overview(savings)
    assert list(disp.panels_) == ["residuals_fitted", "qq", "scale_location", "residuals_leverage"]
    assert disp.axes_.shape == (2, 2) and disp.ax_ is disp.axes_
    assert disp.figure_._suptitle.get_text() == "sr ~ pop15 + pop75 + dpi + ddpi"
    assert {"Zambia", "Libya"} <= set(disp.labelled_)
    disp.savefig(tmp_path / "o.png")


def test_plots_need_a_result():
    with pytest.raises(TypeError, match="cannot plot a list"):
        plots.cooks_index([1, 2, 3])


def test_many_points_are_thinned_in_qq_and_plots_stay_fast():
    rng = np.random.default_rng(0)
    n = 30000
    X = np.column_stack([np.ones(n), rng.standard_normal((n, 3))])
    y = X @ [1.0, 2.0, 0.0, -1.0] + rng.standard_normal(n)
    fit = regdiag.ols(y, X)
    disp = plots.qq(fit, nsim=19)
    assert 2500 < len(disp.data_) < 3100
    env = disp.artists_["envelope_data"]
    assert env.lower.shape == (len(disp.data_),)
    assert plots.residuals_fitted(fit).artists_["points"].get_rasterized()


def test_plot_by_name_of_a_fit_and_an_influence(savings):
    over = plots.plot(savings, envelope=False)
    assert isinstance(over, plots.PanelDisplay) and next(iter(over.panels_)) == "residuals_fitted"
    bubble = plots.plot(savings.influence(), "influence_bubble")
    assert isinstance(bubble, plots.Display) and bubble.ax_.get_title() == "Influence plot"
    assert list(plots.plot(savings.influence(), "dfbetas").panels_) == list(savings.param_names)
    with pytest.raises(ValueError, match="kind='pie' is not a plot"):
        plots.plot(savings, "pie")


# ---------------------------------------------------------------------------------------------------------------
# label placement, constant leverage, reference lines


def _drawn(disp):
    fig = disp.figure_
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def _label_boxes(ax, renderer):
    from matplotlib.text import Text

    return [(t, Text.get_window_extent(t, renderer)) for t in ax.texts if t.get_gid() == plots.LABEL_GID]


def _point_centres(ax):
    from matplotlib.collections import PathCollection

    pts = [c.get_offset_transform().transform(c.get_offsets()) for c in ax.collections
           if isinstance(c, PathCollection) and len(c.get_offsets())]
    return np.vstack(pts) if pts else np.empty((0, 2))


@pytest.fixture(scope="module")
def quine_nb():
    df = regdiag.datasets.load("quine")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return regdiag.glm("Days ~ Eth + Sex + Age + Lrn", data=df, family="negative_binomial", alpha=1 / 1.27)


@pytest.mark.parametrize("which", ["savings", "quine"])
def test_labels_stay_inside_the_axes_apart_and_next_to_their_own_point(which, savings, quine_nb):
    fit = savings if which == "savings" else quine_nb
    disp = plots.overview(fit, envelope=False)
    renderer = _drawn(disp)
    for name, panel in disp.panels_.items():
        ax = panel.ax_
        boxes = _label_boxes(ax, renderer)
        assert len(boxes) == len(panel.labelled_) == 3
        frame_box = ax.bbox
        anchors = np.array([ax.transData.transform(t.xy) for t, _ in boxes])
        for k, (t, b) in enumerate(boxes):
            # inside the axes
            assert b.x0 >= frame_box.x0 - 0.5 and b.x1 <= frame_box.x1 + 0.5, (name, t.get_text())
            assert b.y0 >= frame_box.y0 - 0.5 and b.y1 <= frame_box.y1 + 0.5, (name, t.get_text())
            # apart from every other label
            assert not any(b.overlaps(o) for j, (_, o) in enumerate(boxes) if j != k), (name, t.get_text())
            # next to its own point, or joined to it by a leader line
            dist = [np.hypot(max(b.x0 - x, 0, x - b.x1), max(b.y0 - y, 0, y - b.y1)) for x, y in anchors]
            nearest_is_own = int(np.argmin(dist)) == k
            assert nearest_is_own or t.arrow_patch is not None, (name, t.get_text())
            if t.arrow_patch is None:
                assert dist[k] < 20, (name, t.get_text(), dist[k])  # right next to its point


def test_a_label_that_moves_away_gets_a_leader_line():
    rng = np.random.default_rng(3)
    n = 400
    x = rng.normal(size=n)
    y = 1 + x + rng.normal(size=n)
    x[:3] = [0.0, 0.02, -0.02]  # the three largest residuals, on top of each other
    y[:3] = [9.0, 9.03, 8.97]
    df = pd.DataFrame({"x": x, "y": y}, index=[f"row{i}" for i in range(n)])
    fit = regdiag.ols("y ~ x", data=df)
    disp = plots.residuals_fitted(fit, n_labels=3)
    renderer = _drawn(disp)
    boxes = _label_boxes(disp.ax_, renderer)
    assert {t.get_text() for t, _ in boxes} == {"row0", "row1", "row2"}
    assert sum(t.arrow_patch is not None for t, _ in boxes) >= 2  # three labels cannot all sit by one point
    for k, (_, b) in enumerate(boxes):
        assert not any(b.overlaps(o) for j, (_, o) in enumerate(boxes) if j != k)


def test_residuals_leverage_legend_covers_no_point():
    rng = np.random.default_rng(0)
    n = 20000
    X = rng.normal(size=(n, 3))
    y = X @ [0.5, -0.2, 0.1] + rng.standard_t(4, size=n)
    df = pd.DataFrame(X, columns=["a", "b", "c"]).assign(y=y)
    disp = plots.residuals_leverage(regdiag.ols("y ~ a + b + c", data=df))
    renderer = _drawn(disp)
    legend_box = disp.ax_.get_legend().get_window_extent(renderer)
    pts = _point_centres(disp.ax_)
    assert legend_box.count_contains(pts) == 0


def test_constant_leverage_plots_residuals_against_factor_levels():
    df = regdiag.datasets.load("InsectSprays")
    fit = regdiag.glm("count ~ spray", data=df, family="poisson")
    h = fit.influence().leverage
    assert 0 < np.ptp(h) < 1e-14  # equal up to rounding: the case np.ptp(h) == 0 missed
    disp = plots.residuals_leverage(fit)
    assert disp.ax_.get_title() == "Constant leverage: residuals vs factor levels"
    assert disp.ax_.get_xlabel() == "Levels of spray"
    assert disp.artists_["smoother"] is None and disp.artists_["contours"] == {}
    assert disp.artists_["levels"] == ["A", "B", "C", "D", "E", "F"]
    codes = disp.data_["x"].to_numpy()
    np.testing.assert_array_equal(codes, df["spray"].map({s: i for i, s in enumerate("ABCDEF")}).to_numpy())
    np.testing.assert_allclose(disp.data_["y"], fit.influence().standard_resid_pearson, rtol=1e-12)
    assert [t.get_text() for t in disp.ax_.get_xticklabels()] == list("ABCDEF")
    assert list(disp.labelled_) == _top(pd.Series(fit.influence().cooks_distance, index=fit.index), 3)
    # no line through the points anywhere in the overview's leverage panel
    over = plots.overview(fit, envelope=False).panels_["residuals_leverage"]
    assert over.artists_["smoother"] is None


def test_constant_leverage_with_two_factors_and_without_any():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"a": np.repeat(["lo", "hi"], 12), "b": np.tile(np.repeat(["x", "y", "z"], 4), 2)})
    df["y"] = rng.normal(size=len(df))
    disp = plots.residuals_leverage(regdiag.ols("y ~ a * b", data=df))
    assert disp.artists_["levels"] == ["hi:x", "hi:y", "hi:z", "lo:x", "lo:y", "lo:z"]
    assert disp.ax_.get_xlabel() == "Level combinations of a : b"
    first = disp.data_["x"].to_numpy()[0]  # row 0 is ("lo", "x")
    assert disp.artists_["levels"][int(first)] == "lo:x"
    mean_only = plots.residuals_leverage(regdiag.ols("y ~ 1", data=df))
    assert mean_only.ax_.get_title() == "Constant leverage: residuals vs observation number"
    np.testing.assert_array_equal(mean_only.data_["x"], np.arange(1, 25))


def test_smoother_skips_an_x_that_is_constant_up_to_rounding():
    from regdiag.plots._base import smoother

    _fig, ax = plt.subplots()
    x = 1 / 12 + np.array([0.0, 1e-17, -1e-17, 2e-17, 0.0, 1e-17, 0.0, 0.0])
    assert np.ptp(x) > 0
    assert smoother(ax, x, np.arange(8.0)) is None
    assert smoother(ax, np.arange(8.0), np.arange(8.0) ** 2) is not None


def test_influence_plot_shows_both_leverage_lines_and_their_labels(savings):
    rng = np.random.default_rng(2)
    df = pd.DataFrame({"x1": rng.normal(size=200), "x2": rng.normal(size=200)})
    df["y"] = df.x1 + rng.normal(size=200)
    for fit in (savings, regdiag.ols("y ~ x1 + x2", data=df)):
        disp = plots.influence_bubble(fit)
        renderer = _drawn(disp)
        ax = disp.ax_
        p, n = fit.rank, fit.nobs
        assert ax.get_xlim()[1] > 3 * p / n
        notes = {t.get_text(): t.get_window_extent(renderer) for t in ax.texts if t.get_text() in ("2p/n", "3p/n")}
        assert set(notes) == {"2p/n", "3p/n"}
        for box in notes.values():  # inside the axes, not clipped at its edge
            assert ax.bbox.x0 <= box.x0 and box.x1 <= ax.bbox.x1
        assert not notes["2p/n"].overlaps(notes["3p/n"])


def test_dfbetas_panels_show_the_r_cut_off_or_say_it_is_off_scale(savings):
    disp = plots.dfbetas_panel(savings)
    dfbs = pd.DataFrame(savings.influence().dfbetas, columns=savings.param_names)
    for name, panel in disp.panels_.items():
        big = dfbs[name].abs().max()
        top = panel.ax_.get_ylim()[1]
        note = panel.ax_.get_title(loc="right")
        if big >= 1 / 3:
            assert top > 1 and note == "", name  # the dotted +/-1 lines are in view
        else:
            assert top < 1 and note == "±1 off scale", name
    assert {n for n in disp.panels_ if dfbs[n].abs().max() < 1 / 3} == {"dpi"}
