"""Draws the gallery's plots and prints the gallery page's body as reStructuredText.

Run by ``docs/gallery/index.rst`` while the documentation is built (``.. runcode:: :file: gallery/gallery.py``
with ``:output: rst``): every figure is drawn from the bundled data sets at build time and saved under
``docs/_build/gallery/`` (not committed). Run it by hand with ``python docs/gallery/gallery.py`` to see the
reStructuredText it prints and the PNG files it writes.
"""

from __future__ import annotations

import textwrap
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

import regdiag
from regdiag import plots

HERE = Path(globals().get("__file__", "docs/gallery/gallery.py")).resolve().parent
OUT = HERE.parent / "_build" / "gallery"
OUT.mkdir(parents=True, exist_ok=True)

warnings.simplefilter("ignore")  # the page shows figures; warnings are covered in the tutorials

# the fits (shown on the gallery page by a literalinclude between these two comments)
savings = regdiag.ols("sr ~ pop15 + pop75 + dpi + ddpi", data=regdiag.datasets.load("LifeCycleSavings"))
duncan_df = regdiag.datasets.load("Duncan")
duncan = regdiag.ols("prestige ~ income + education", data=duncan_df)
birthwt = regdiag.glm(
    "low ~ age + lwt + C(race) + smoke + ptl + ht + ui + ftv", data=regdiag.datasets.load("birthwt"),
    family="binomial",
)
# end of the fits

def _most(infl, measure: str) -> str:
    values = np.abs(np.asarray(getattr(infl, measure), dtype=float))
    i = int(np.nanargmax(values))
    return f"{infl.index[i]} ({values[i]:.3g})"


def overview_facts(d) -> str:
    infl = savings.influence()
    return (
        f"Here the largest leverage is {_most(infl, 'leverage')}, the largest absolute studentized residual "
        f"{_most(infl, 'student_resid')}; the points labelled are {', '.join(map(str, d.labelled_))}."
    )


def bubble_facts(d) -> str:
    infl = duncan.influence()
    labelled = ", ".join(map(str, d.labelled_))
    return f"The largest Cook's distance is {_most(infl, 'cooks_distance')}; labelled: {labelled}."


def dfbetas_facts(d) -> str:
    infl = duncan.influence()
    dfbs = np.abs(infl.dfbetas)
    i, j = np.unravel_index(np.nanargmax(dfbs), dfbs.shape)
    return f"The largest change is {infl.index[i]} on {infl.param_names[j]}: {dfbs[i, j]:.2f} standard errors."


def half_normal_facts(d) -> str:
    env = d.artists_["envelope_data"]
    y = d.data_["y"].to_numpy()
    out = int(np.sum((y < env.lower) | (y > env.upper)))
    return f"{out} of {len(y)} sorted residuals fall outside the band ({env.nsim} simulated data sets)."


def _curvatures(fit):
    """The engine runs and the exact leave-one-out the curvature comparison draws."""
    import regdiag.engine

    runs = {c: regdiag.engine.influence(fit, c, "direct", correction="leverage") for c in ("exact", "kfac", "ekfac")}
    return plots.curvature_comparison(runs, exact=fit.influence(loo="exact"))


def curvature_facts(d) -> str:
    errs = ", ".join(f"{k} {p.artists_['discrepancy']:.2g}" for k, p in d.panels_.items())
    return f"Largest error relative to the largest exact change: {errs}."


# (file name, title, what it shows and how to read it, the call that drew it, the drawing, facts computed from it)
GALLERY = [
    (
        "overview", "The 2 × 2 overview",
        "R's ``plot(lm)`` for the savings-rate regression (R's ``?influence.measures`` example): residuals against "
        "fitted values, studentized residuals against t quantiles with a band simulated from the fitted model, "
        "scale–location, and standardized residuals against leverage with Cook's distance contours 0.5 and 1.",
        "plots.plot(savings)", lambda: plots.plot(savings, rng=0), overview_facts,
    ),
    (
        "bubble", "Influence bubble plot",
        "Occupational prestige (Duncan): studentized residual against leverage, circle area proportional to Cook's "
        "distance, lines at leverage 2p/n and 3p/n and at residuals ±2.",
        "plots.influence_bubble(duncan)", lambda: plots.influence_bubble(duncan), bubble_facts,
    ),
    (
        "dfbetas", "DFBETAS panel",
        "How many standard errors each coefficient moves when an observation is deleted, with the Belsley–Kuh–Welsch "
        "lines ±2/√n (dashed) and R's ±1 (dotted).",
        "plots.dfbetas_panel(duncan, n_labels=2)", lambda: plots.dfbetas_panel(duncan, n_labels=2), dfbetas_facts,
    ),
    (
        "added_variable", "Added-variable plots",
        "Prestige against income and against education, each with the other variable partialled out: the slope of "
        "each line is the coefficient, so the points that pull it are the ones that move it.",
        "plots.added_variable(duncan, n_labels=2)", lambda: plots.added_variable(duncan, n_labels=2),
        lambda d: f"Labelled: {', '.join(map(str, d.labelled_))}.",
    ),
    (
        "half_normal", "Half-normal plot of a logistic regression",
        "Absolute likelihood residuals of the low-birth-weight model against half-normal quantiles, with the 95% "
        "band of responses simulated from the fitted model (Atkinson's envelope; each simulated response is taken to "
        "its own estimate by scoring steps with the fit's factorization, see regdiag.linear.envelope).",
        "plots.half_normal(birthwt, nsim=99)", lambda: plots.half_normal(birthwt, nsim=99, rng=1), half_normal_facts,
    ),
    (
        "curvatures", "Curvatures compared on a GLM",
        "The second-order engine's coefficient changes (with the leverage correction) against exact leave-one-out "
        "refits of the logistic model, for the exact Hessian, K-FAC and EK-FAC. Off the line is approximation: for "
        "a GLM the one-step change itself, and for K-FAC and EK-FAC also their Kronecker factorization of the "
        "curvature.",
        "plots.curvature_comparison(runs, exact=exact)", lambda: _curvatures(birthwt), curvature_facts,
    ),
    (
        "component_residual", "Component + residual plots",
        "car's ``crPlots`` for the savings-rate regression: each term's partial residual (residual plus the term's "
        "centred contribution) against the term, with the fitted component (dashed) and a lowess smoother (red); a "
        "smoother that bends away from the line asks for a transformation of that term.",
        "plots.component_residual(savings)", lambda: plots.component_residual(savings),
        lambda d: f"Labelled: {', '.join(map(str, d.labelled_))}.",
    ),
    (
        "index_plot", "Influence index plot",
        "car's ``infIndexPlot``: Cook's distance, studentized residuals, Bonferroni p-values and hat values by row.",
        "plots.index_plot(savings)", lambda: plots.index_plot(savings),
        lambda d: f"Labelled: {', '.join(map(str, d.labelled_))}.",
    ),
    (
        "dffits_index", "DFFITS by observation",
        "Change of each row's own fitted value when it is deleted, in standard errors, with R's cut-off "
        "±3√(p/(n−p)) and Belsley–Kuh–Welsch's ±2√(p/n); ``plots.covratio_index`` draws COVRATIO the same way.",
        "plots.dffits_index(duncan)", lambda: plots.dffits_index(duncan),
        lambda d: f"Labelled: {', '.join(map(str, d.labelled_))}.",
    ),
    (
        "potential_residual", "Potential–residual plot (Hadi)",
        "Potential h/(1−h) against Hadi's residual function: high points are remote in the design, points on the "
        "right badly fitted.",
        "plots.potential_residual(duncan)", lambda: plots.potential_residual(duncan),
        lambda d: f"Largest Hadi measure: {', '.join(map(str, d.labelled_))}.",
    ),
    (
        "vif", "Collinearity panel",
        "car's ``vif`` (generalized for factors: the race factor of the logistic model has 2 columns), as "
        "GVIF^(1/(2 Df)), the factor by which a term's standard error is inflated by its correlation with the others.",
        "plots.vif_panel(birthwt)", lambda: plots.vif_panel(birthwt),
        lambda d: f"Largest: {d.data_['GVIF^(1/(2*Df))'].idxmax()} ({d.data_['GVIF^(1/(2*Df))'].max():.3g}).",
    ),
    (
        "deletion", "What deletion does",
        "The fit with and without the row of largest Cook's distance (exact, from the closed form), here in the "
        "added-variable view of the coefficient that the deletion moves most.",
        "plots.deletion(duncan)", lambda: plots.deletion(duncan),
        lambda d: f"Deleted: {', '.join(map(str, d.artists_['effect'].rows))}.",
    ),
]


def main() -> None:
    for name, title, text, call, draw, facts in GALLERY:
        display = draw()
        text = f"{text} {facts(display)}"
        display.figure_.savefig(OUT / f"{name}.png", dpi=96, bbox_inches="tight")
        plt.close("all")
        print(f".. rubric:: {title}")  # a heading that nested parsing allows (sections are not)
        print()
        print("\n".join(textwrap.wrap(text, 110)))
        print()
        print(".. code-block:: python")
        print()
        print(f"   {call}")
        print()
        print(f".. image:: /_build/gallery/{name}.png")
        print(f"   :alt: {title}")
        print()


main()
