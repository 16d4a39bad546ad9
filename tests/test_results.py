"""Result objects: naming styles, R's abbreviate, flag rules, outlier test, immutability."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import regdiag
from regdiag.measures import CRITERIA, RULES
from regdiag.results import r_abbreviate


@pytest.mark.parametrize(
    "names,expected",
    [
        # values printed by R 4.2.2: abbreviate(c(...)), minlength = 4
        (["1_", "pop15", "pop75", "dpi", "ddpi"], ["1_", "pp15", "pp75", "dpi", "ddpi"]),
        (["1_", "income", "education"], ["1_", "incm", "edct"]),
        (["Air_Flow", "Water_Temp", "Acid_Conc"], ["Ar_F", "Wt_T", "Ac_C"]),
        (["speed", "speed2"], ["sped", "spd2"]),
        (["type_prof", "type_wc"], ["typ_p", "typ_w"]),
    ],
)
def test_r_abbreviate(names, expected):
    assert r_abbreviate(names) == expected


@pytest.fixture(scope="module")
def infl():
    df = regdiag.datasets.load("LifeCycleSavings")
    return regdiag.ols("sr ~ pop15 + pop75 + dpi + ddpi", data=df).influence()


def test_frames_are_indexed_like_the_input(infl):
    for style in ("regdiag", "R", "statsmodels", "SAS"):
        frame = infl.to_frame(style)
        assert frame.index.equals(infl.index) and frame.index[0] == "Australia"
    frame = infl.to_frame()
    assert list(frame.columns[:10]) == [
        "leverage", "resid", "standard_resid", "student_resid", "press_resid",
        "sigma_loo", "cooks_distance", "cooks_pvalue", "dffits", "cov_ratio",
    ]
    assert "dfbetas_pop15" in frame and "dfbeta_Intercept" in frame


def test_results_are_frozen(infl):
    with pytest.raises(dataclasses.FrozenInstanceError):
        infl.leverage = np.zeros(3)
    with pytest.raises(ValueError, match="read-only"):
        infl.leverage[0] = 2.0
    changed = dataclasses.replace(infl, method="changed")
    assert changed.method == "changed" and changed.leverage is infl.leverage


def test_r_rule_flags_the_documented_rows(infl):
    # R's summary(influence.measures(lm(sr ~ ., LifeCycleSavings))) lists exactly these four
    flagged = infl.flags("R").fillna(False).any(axis=1)
    assert sorted(infl.index[flagged.to_numpy()]) == ["Chile", "Libya", "United States", "Zambia"]
    table = infl.flagged("R")
    assert "cov.r" in table.loc["Chile", "flagged_by"]


@pytest.mark.parametrize("rule", list(RULES) + list(CRITERIA))
def test_every_rule_applies_its_cutoff(infl, rule):
    flags = infl.flags(rule)
    assert flags.shape[0] == len(infl.index)
    p, n = infl.rank, infl.n_obs
    crits = [CRITERIA[c] for c in RULES[rule]] if rule in RULES else [CRITERIA[rule]]
    for crit in crits:
        values = getattr(infl, crit.measure)
        cut = crit.cutoff(p, n)
        if values.ndim == 2:
            continue
        r_names = {"dffits": "dffit", "cov_ratio": "cov.r", "cooks_distance": "cook.d", "leverage": "hat"}
        col = crit.name if rule != "R" else r_names[crit.measure]
        got = flags[col].to_numpy(dtype=bool)
        if crit.test == "gt":
            exp = values > cut
        elif crit.test == "abs_gt":
            exp = np.abs(values) > cut
        elif crit.test == "abs_dev1_gt":
            exp = np.abs(1 - values) > cut
        else:
            from scipy import stats

            exp = stats.f.cdf(values, p, n - p) > cut
        np.testing.assert_array_equal(got, exp)


def test_common_rule_cutoffs_by_hand(infl):
    n, p = 50, 5
    flags = infl.flags(["cooks_4n", "leverage_2p", "dfbetas_2sqrtn"])
    np.testing.assert_array_equal(flags["cooks_4n"].to_numpy(bool), infl.cooks_distance > 4 / n)
    np.testing.assert_array_equal(flags["leverage_2p"].to_numpy(bool), infl.leverage > 2 * p / n)
    np.testing.assert_array_equal(flags["dfbetas_pop15"].to_numpy(bool), np.abs(infl.dfbetas[:, 1]) > 2 / np.sqrt(n))
    assert flags.attrs["criteria"]["cooks_4n"] == "Cook's D > 4/n"


def test_outlier_test_like_car(infl):
    out = infl.outlier_test()  # car's defaults: cutoff 0.05 on the Bonferroni p, at most 10 rows
    assert len(out) == 1 and out.index[0] == "Zambia"  # none below 0.05: the largest residual, as car prints
    full = infl.outlier_test(cutoff=None, n_max=None)
    assert len(full) == 50 and (np.diff(np.abs(full["student_resid"])) <= 0).all()
    holm = infl.outlier_test("holm", cutoff=None, n_max=None)
    assert (holm["holm_p"] >= holm["unadjusted_p"]).all()
    assert full.attrs["reference"] == "t(44)"


def test_summary_and_repr(infl):
    text = infl.summary()
    assert "4 observation(s) flagged" in text and "Zambia" in text
    assert "Influence" in repr(infl)


def test_r_names_of_factor_columns():
    from regdiag.results import r_term_name

    assert r_term_name("type[T.prof]") == "typeprof"
    assert r_term_name("sex[T.M]:age") == "sexM:age"
    assert r_term_name("income") == "income"
    df = regdiag.datasets.load("Duncan")
    cols = regdiag.ols("prestige ~ income + education + type", data=df).influence().to_frame("R").columns
    # R: lm(prestige ~ income + education + type, Duncan) names its coefficients typeprof and typewc
    assert list(cols[:5]) == ["dfb.1_", "dfb.incm", "dfb.edct", "dfb.typp", "dfb.typw"]


def test_ols_influence_holds_no_n_by_p_array_and_derives_fresh_ones():
    import regdiag

    fit = regdiag.ols("sr ~ pop15 + pop75 + dpi + ddpi", data=regdiag.datasets.load("LifeCycleSavings"))
    infl = fit.influence()
    assert infl.dfbeta_is_lazy
    # every stored field but dfbeta (a function of the fit's factor, checked above) is a vector or a scalar
    stored = [getattr(infl, f.name) for f in dataclasses.fields(infl) if f.name not in ("fit", "dfbeta_data")]
    assert not any(isinstance(v, np.ndarray) and v.ndim == 2 for v in stored)
    d1 = infl.dfbeta
    d1[:] = 0.0  # a fresh array each time: the caller's copy to keep or change
    d2, s, loo = infl.dfbeta, infl.dfbetas, infl.loo_params
    assert np.abs(d2).max() > 0
    np.testing.assert_allclose(loo, infl.params[None, :] - d2, rtol=1e-15)
    sd = infl.sigma_loo[:, None] * np.sqrt(infl.cov_unscaled_diag)[None, :]
    np.testing.assert_allclose(s, d2 / sd, rtol=1e-14)
