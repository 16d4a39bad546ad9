"""The HTML report: well-formed, self-contained, with every section; its exports equal the result objects."""

from __future__ import annotations

import base64
import json
import warnings

import numpy as np
import pandas as pd
import pytest

import regdiag
from regdiag.report import write_html_report

from .htmlcheck import check_html

FORMULA = "sr ~ pop15 + pop75 + dpi + ddpi"


@pytest.fixture(scope="module")
def savings_fit():
    return regdiag.ols(FORMULA, data=regdiag.datasets.load("LifeCycleSavings"))


@pytest.fixture(scope="module")
def full_report(savings_fit, tmp_path_factory):
    steps = []
    out = tmp_path_factory.mktemp("report")
    rep = write_html_report(
        savings_fit, out, title="LifeCycleSavings", compare_statsmodels=True, nsim=39,
        progress=lambda step, done, total: steps.append((step, done, total)),
    )
    return rep, steps


def test_report_is_well_formed_and_self_contained(full_report):
    rep, _ = full_report
    c = check_html(rep.path)
    assert c.tags["img"] >= 8  # overview, Cook's index, Cook vs h/(1-h), bubble, DFBETAS, AV, 2 engine plots
    text = rep.path.read_text()
    for section in ("Model and fit", "Flagged observations", "Plots", "Outlier test", "Engine cross-check",
                    "Comparison with statsmodels", "Exports"):
        assert f">{section}</h2>" in text


def test_small_data_embeds_svg_and_larger_data_png(full_report, savings_fit, tmp_path, monkeypatch):
    """Up to SVG_MAX_N rows the figures are vector (text as text, the same bytes on every run); above, PNG."""
    import re

    from regdiag.report import html

    rep, _ = full_report
    text = rep.path.read_text()
    svgs = re.findall(r'src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(svgs) >= 8 and "data:image/png" not in text
    for b64 in svgs:
        svg = base64.b64decode(b64).decode("utf-8")
        assert "<svg" in svg and "<text" in svg and "<dc:date>" not in svg
    monkeypatch.setattr(html, "SVG_MAX_N", savings_fit.nobs - 1)
    small = write_html_report(savings_fit, tmp_path, cross_check=False, engine_plots=False, nsim=0)
    pngs = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', small.path.read_text())
    assert len(pngs) >= 8 and "data:image/svg" not in small.path.read_text()
    for b64 in pngs:
        raw = base64.b64decode(b64)
        assert raw[:8] == b"\x89PNG\r\n\x1a\n" and len(raw) > 10_000


def test_flagged_table_names_the_criteria(full_report, savings_fit):
    rep, _ = full_report
    text = rep.path.read_text()
    expected = savings_fit.influence().flagged("R")
    assert list(rep.flagged.index) == list(expected.index) == ["Chile", "United States", "Zambia", "Libya"]
    assert list(rep.diagnostics.ranked.index) == ["Libya", "Zambia", "Chile", "United States"]  # the page's order
    assert "dfb.ddpi, dffit, cov.r, hat" in text  # what flagged Libya
    assert "|DFBETAS| &gt; 1" in text and "leverage &gt; 3p/n" in text  # the rule's criteria, escaped


def test_exports_equal_the_result_objects(full_report, savings_fit):
    rep, _ = full_report
    frame = savings_fit.influence().to_frame()
    csv = pd.read_csv(rep.exports["measures.csv"], index_col=0)
    assert list(csv.columns) == list(frame.columns) and list(csv.index) == list(frame.index)
    np.testing.assert_array_equal(csv.to_numpy(), frame.to_numpy())  # to_csv writes round-trip digits
    data = json.loads(rep.exports["measures.json"].read_text())
    assert data["index"] == list(frame.index) and list(data["measures"]) == list(frame.columns)
    for col in frame.columns:
        got = np.array([np.nan if v is None else v for v in data["measures"][col]], dtype=float)
        np.testing.assert_array_equal(got, frame[col].to_numpy())
    assert data["model"]["formula"] == FORMULA and data["model"]["rank"] == 5
    flagged = pd.read_csv(rep.exports["flagged.csv"], index_col=0)
    assert list(flagged.index) == list(rep.flagged.index) and "flagged_by" in flagged.columns
    cc = pd.read_csv(rep.exports["cross_check.csv"])
    assert len(cc) == len(rep.cross_check) and set(cc["curvature"]) >= {"exact", "kfac", "ekfac"}
    assert pd.read_csv(rep.exports["compare_statsmodels.csv"], index_col=0)["agree"].all()


def test_progress_reports_every_step(full_report):
    _, steps = full_report
    totals = {t for _, _, t in steps}
    assert len(totals) == 1 and [d for _, d, _ in steps] == list(range(1, len(steps) + 1))
    assert steps[-1][1] == steps[-1][2]
    assert any("cross-check" in s for s, _, _ in steps) and any(s.startswith("plot:") for s, _, _ in steps)


def test_terminal_summary_ends_with_the_report_path(full_report):
    rep, _ = full_report
    lines = rep.text.splitlines()
    assert lines[-1] == f"report: {rep.path}"
    assert "Influential observations (rule 'R'): 4 of 50" in rep.text
    assert "exact runs" not in rep.text and "runs that theory says are exact agree" in rep.text
    assert "20 of 20 measures agree" in rep.text


def test_report_options(savings_fit, tmp_path):
    rep = write_html_report(savings_fit, tmp_path, rule="BKW", n_labels=1, cross_check=False, engine_plots=False,
                            nsim=19)
    check_html(rep.path)
    assert rep.cross_check is None and "cross_check.csv" not in rep.exports
    text = rep.path.read_text()
    assert "Engine cross-check" in text and "not computed" in text
    assert "Comparison with statsmodels" not in text
    assert len(rep.flagged) == len(savings_fit.influence().flagged("BKW"))


def test_row_labels_are_escaped(tmp_path):
    df = regdiag.datasets.load("LifeCycleSavings")
    df.index = [f"<b>{c}</b>&" for c in df.index]
    fit = regdiag.ols(FORMULA, data=df)
    rep = write_html_report(fit, tmp_path, cross_check=False, engine_plots=False, nsim=19)
    check_html(rep.path)
    text = rep.path.read_text()
    assert "<b>Libya</b>" not in text and "&lt;b&gt;Libya&lt;/b&gt;&amp;" in text


def test_warnings_are_shown_in_the_report(tmp_path):
    df = regdiag.datasets.load("LifeCycleSavings").assign(d=0.0)
    df.loc["Libya", "d"] = 1.0
    fit = regdiag.ols(FORMULA + " + d", data=df)
    rep = write_html_report(fit, tmp_path, cross_check=False, engine_plots=False, nsim=19)
    check_html(rep.path)
    assert any("leverage is 1" in w for w in rep.warnings)
    assert ">Warnings</h2>" in rep.path.read_text()


def test_glm_report_has_half_normal_plot(tmp_path):
    df = regdiag.datasets.load("budworm")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = regdiag.glm("prop ~ ldose + sex", data=df, family="binomial", weights="total")
    rep = write_html_report(fit, tmp_path, nsim=19, compare_statsmodels=True, engine_plots=False)
    c = check_html(rep.path)
    text = rep.path.read_text()
    assert 'id="plot-half_normal"' in text and "binomial / logit" in text
    assert c.tags["img"] >= 7 and "not drawn" not in text
    assert rep.cross_check is not None and rep.comparison is not None
    # the page says which DFBETA(S) it shows, and that R's differ
    assert "one-step changes with Pearson residuals" in text and "DFBETA(S) with Pearson residuals" in text


def _labels_per_axes(fig):
    from regdiag.plots import LABEL_GID

    return [sum(t.get_gid() == LABEL_GID for t in ax.texts) for ax in fig.axes if ax.axison]


@pytest.mark.parametrize("n_labels", [0, 1, 4])
def test_every_plot_labels_the_number_of_points_asked_for(savings_fit, n_labels):
    """--labels N reaches every plot: N labels per panel (the influence plot: N per criterion, as car's), none at 0."""
    from regdiag.report.bundle import diagnose
    from regdiag.report.html import _plot_specs

    b = diagnose(savings_fit, nsim=19, cross_check=False)
    specs = _plot_specs(b, n_labels, engine=True)
    assert {key for key, *_ in specs} >= {"overview", "influence_bubble", "dfbetas", "added_variable",
                                          "curvature_comparison", "engine_vs_exact", "cooks_index", "index_plot",
                                          "dffits_covratio", "potential_residual", "component_residual", "vif",
                                          "deletion"}
    for key, _, caption, make in specs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            counts = _labels_per_axes(make())
        assert counts, key
        if key == "influence_bubble":
            assert n_labels <= counts[0] <= 3 * n_labels, (key, counts)
        elif key == "vif":  # bars, no points
            assert counts == [0]
        elif key == "deletion":  # the deleted row, whatever n_labels
            assert counts == [1]
        elif key == "component_residual":  # at most 2 per panel, as car's crPlots
            assert all(c == min(n_labels, 2) for c in counts), (key, counts)
        elif key == "index_plot":  # the Bonferroni panel labels only p-values below 1 (one here: Zambia)
            assert counts[:2] + counts[3:] == [n_labels] * 3 and counts[2] == min(n_labels, 1), (key, counts)
        else:
            assert all(c == n_labels for c in counts), (key, counts)
        if key == "overview":
            assert (f"the {n_labels} most extreme points are labelled" in caption) == (n_labels > 0)


def test_constant_leverage_report_plots_residuals_against_factor_levels(tmp_path):
    df = regdiag.datasets.load("InsectSprays")
    fit = regdiag.glm("count ~ spray", data=df, family="poisson")
    rep = write_html_report(fit, tmp_path, cross_check=False, engine_plots=False, nsim=19)
    import html

    text = html.unescape(rep.path.read_text())
    assert "not drawn" not in text
    assert "every observation has the same leverage (0.08333)" in text and "levels of the model's factors" in text


def test_output_folder_that_is_a_file_is_a_data_error(savings_fit, tmp_path):
    afile = tmp_path / "f"
    afile.write_text("")
    with pytest.raises(regdiag.DataError, match="it is a file, not a folder"):
        write_html_report(savings_fit, afile, cross_check=False, engine_plots=False, nsim=19)


def test_report_imports_matplotlib_only_through_plots():
    from pathlib import Path

    import regdiag.report.html as html_mod

    for module in Path(html_mod.__file__).parent.glob("*.py"):
        source = module.read_text()
        assert "import matplotlib" not in source and "from matplotlib" not in source, module.name


def test_report_draws_the_teaching_plots_from_one_bundle(full_report, savings_fit):
    from regdiag.linear import teaching

    rep, _ = full_report
    text = rep.path.read_text()
    for key in ("index_plot", "dffits_covratio", "potential_residual", "component_residual", "vif", "deletion"):
        assert f'id="plot-{key}"' in text
    b = rep.diagnostics
    pd.testing.assert_frame_equal(b.vif, teaching.vif(savings_fit))
    pd.testing.assert_frame_equal(pd.read_csv(rep.exports["vif.csv"], index_col=0), b.vif, check_names=False)
    assert list(b.deletion.rows) == ["Libya"]  # the largest Cook's distance
    # the engine plots' runs are the cross-check's own (one engine run each, not two)
    assert ("exact", "direct", "none") in b.engine_runs
    assert len(b.engine_runs) == int((rep.cross_check["status"] == "ok").sum())
    # ranked by Cook's distance in the page, every flagged row in the export
    assert list(b.ranked.index) == list(b.flagged["cooks_distance"].sort_values(ascending=False).index)
    assert b.share_note.startswith("Rule 'R' flags 4 of 50 rows (8.0%)")


def test_report_follows_car_for_offsets_and_negative_binomial(tmp_path):
    """An offset is not a term (the generalized VIF groups a factor's columns as car::vif), and the outlier test and
    the index plot use car's reference for a negative binomial with theta estimated: t(df - 1)."""
    from pathlib import Path

    from regdiag.report.bundle import diagnose

    ref = Path(__file__).resolve().parents[1] / "reference" / "teaching" / "glmnb_ships_offset"
    data = pd.read_csv(ref / "data.csv", index_col=0)
    fit = regdiag.glm("incidents ~ type + factor(period) + offset(log(service))", data=data,
                      family="negative_binomial")
    b = diagnose(fit, nsim=0, cross_check=False, engine=False)
    assert list(b.vif.index) == ["type", "factor(period)"] and list(b.vif["Df"]) == [4, 1]
    assert b.outlier_test.attrs["reference"] == f"t({fit.df_resid - 1:g})"
    car = pd.read_csv(ref / "index_values.csv", index_col=0)
    np.testing.assert_allclose(b.index_values["bonferroni_p"], car["bonferroni_p"], rtol=1e-8)
    top = b.outlier_test.index[0]
    assert b.outlier_test.loc[top, "bonferroni_p"] == pytest.approx(car.loc[top, "bonferroni_p"], rel=1e-8)


def test_big_data_exports_parquet_and_caps_the_flagged_table(tmp_path, monkeypatch):
    """Above the switch point the measures go to parquet; the page lists at most MAX_FLAGGED_ROWS flagged rows
    and says that the rule flags a large share, the export has them all. (Switch point and cap lowered so that the
    test stays small.)"""
    from regdiag.report import html as html_mod

    pytest.importorskip("pyarrow")
    monkeypatch.setattr(html_mod, "EXPORT_PARQUET_ABOVE", 100)
    monkeypatch.setattr(html_mod, "MAX_FLAGGED_ROWS", 5)
    rng = np.random.default_rng(3)
    n = 400
    df = pd.DataFrame({"x1": rng.standard_normal(n), "x2": rng.standard_normal(n)})
    df["y"] = 1 + df["x1"] - df["x2"] + rng.standard_normal(n)
    fit = regdiag.ols("y ~ x1 + x2", data=df)
    rep = write_html_report(fit, tmp_path, cross_check=False, engine_plots=False, nsim=19, rule="BKW")
    check_html(rep.path)
    assert "measures.parquet" in rep.exports and "measures.csv" not in rep.exports
    back = pd.read_parquet(rep.exports["measures.parquet"])
    frame = fit.influence().to_frame()
    np.testing.assert_array_equal(back.to_numpy(), frame.to_numpy())
    assert list(back.index) == list(frame.index)
    flagged = pd.read_csv(rep.exports["flagged.csv"], index_col=0)
    assert len(flagged) == len(fit.influence().flagged("BKW")) > 5
    text = rep.path.read_text()
    assert "The 5 largest of the" in text and "Bonferroni outlier test" in text
    assert text.count("<tr>") < len(flagged) + 60  # the page does not list them all


def test_terminal_progress_only_once_the_report_is_slow(monkeypatch, capsys):
    from regdiag.report import bundle

    monkeypatch.setattr(bundle, "PROGRESS_AFTER_S", 3600.0)  # nothing takes an hour: no line
    steps = bundle.Steps(True, total=2)
    steps("a")
    steps("b")
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(bundle, "PROGRESS_AFTER_S", 0.0)  # everything counts as slow: every line
    steps = bundle.Steps(True, total=2)
    steps("a")
    steps("b")
    assert capsys.readouterr().err.splitlines() == ["[1/2] a", "[2/2] b"]
    seen = []
    steps = bundle.Steps(lambda s, d, t: seen.append((s, d, t)), total=1)  # a callable gets every step at once
    steps("x")
    assert seen == [("x", 1, 1)]


def test_the_same_figures_from_early_started_forked_or_no_worker_processes(savings_fit, tmp_path, monkeypatch):
    """Workers started before the numbers (handed the bundle pickled), workers forked after them, and the parent
    alone draw the same figures, byte for byte (vector figures have no date and no random ids)."""
    import re

    from regdiag.report import drawing, html

    def images(out):
        text = (out / "report.html").read_text(encoding="utf-8")
        return re.findall(r'<figure id="plot-([^"]+)">.*?src="(data:image/[^"]+)"', text)

    kw = dict(cross_check=True, engine_plots=True, nsim=0)
    monkeypatch.setattr(drawing, "EARLY_DRAWING_MAX_LOAD", float("inf"))
    early = images(write_html_report(savings_fit, tmp_path / "early", **kw).path.parent)
    monkeypatch.setattr(html, "EARLY_DRAWING_MAX_N", 0)
    forked = images(write_html_report(savings_fit, tmp_path / "forked", **kw).path.parent)
    monkeypatch.setattr(html, "PARALLEL_FIGURES", 10**6)
    alone = images(write_html_report(savings_fit, tmp_path / "alone", **kw).path.parent)
    assert len(early) >= 12 and [k for k, _ in early][-2:] == ["engine_vs_exact", "curvature_comparison"]
    assert early == forked == alone


def test_a_worker_lost_while_drawing_costs_no_figure(savings_fit, tmp_path, monkeypatch):
    """A drawing worker killed in the middle of a figure: the parent draws what was lost, and the page has every
    figure, the same as when the parent draws them all."""
    import os
    import re
    import signal

    from regdiag.report import drawing, html

    real = html._draw_from_bundle
    parent = os.getpid()

    def dying(path, n_labels, k, engine_path=None):
        if os.getpid() != parent and k == 0 and engine_path is None:  # the overview, in a worker
            os.kill(os.getpid(), signal.SIGKILL)
        return real(path, n_labels, k, engine_path)

    dying.__module__, dying.__qualname__ = real.__module__, real.__qualname__  # pickled by name, as the real one
    monkeypatch.setattr(html, "_draw_from_bundle", dying)
    monkeypatch.setattr(drawing, "EARLY_DRAWING_MAX_LOAD", float("inf"))
    monkeypatch.setattr(drawing, "worker_count", lambda n: 2)

    def images(out):
        return re.findall(r'<figure id="plot-([^"]+)">.*?src="(data:image/[^"]+)"',
                          (out / "report.html").read_text(encoding="utf-8"))

    kw = dict(cross_check=True, engine_plots=True, nsim=0)
    lost = images(write_html_report(savings_fit, tmp_path / "lost", **kw).path.parent)
    monkeypatch.setattr(html, "PARALLEL_FIGURES", 10**6)
    alone = images(write_html_report(savings_fit, tmp_path / "alone", **kw).path.parent)
    assert len(lost) >= 12 and lost == alone
