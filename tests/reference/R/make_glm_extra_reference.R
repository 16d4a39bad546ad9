# Extra R reference values for GLM influence diagnostics: links and situations that
# make_glm_reference.R does not cover (binomial log link, Gamma identity link, inverse Gaussian log
# link, Gaussian inverse link, negative binomial square-root link, an aliased column, a two-column
# binomial response with a zero prior weight).
#
# Run from the repository root:   Rscript tests/reference/R/make_glm_extra_reference.R
#
# Reads the input files of the main GLM script (tests/reference/data/, datasets/), writes one folder
# per case under tests/reference/glm_extra/ (plus data/ for derived inputs) and
# tests/reference/glm_extra/manifest.json (this script's own manifest; tests/reference/manifest.json
# is not touched). Same conventions as common.R: %.17g numbers, quoted labels. Deterministic.

source(file.path("tests", "reference", "R", "common.R"))
suppressPackageStartupMessages(library(MASS))

EXTRA_DIR <- file.path(REF_DIR, "glm_extra")

bud <- read_case_data("tests/reference/data/budworm_design.csv", "row")
bud$alive <- bud$total - bud$numdead
bud$w <- 1
bud$w[3] <- 0
write_data_exact(bud, file.path(EXTRA_DIR, "data", "budworm_weights.csv"), "row")

ins <- read_case_data("tests/reference/data/insectsprays_design.csv", "row")
ins$sprayBC <- ins$sprayB + ins$sprayC
write_data_exact(ins, file.path(EXTRA_DIR, "data", "insectsprays_aliased.csv"), "row")

cases <- list(
  list(case = "glm_extra_binomial_cbind_zero_weight", data = "tests/reference/glm_extra/data/budworm_weights.csv",
       index_col = "row", formula = "cbind(numdead, alive) ~ ldose + sexM", weights = "w",
       family = "binomial", link = "logit", family_r = quote(binomial(link = "logit")),
       epsilon = 1e-15,
       description = "budworm as successes/failures (cbind), prior weight 0 for row 3: R leaves that row out of every influence quantity"),
  list(case = "glm_extra_binomial_log", data = "tests/reference/data/birthwt_design.csv", index_col = "id",
       formula = "low ~ age + lwt + smoke + ht", family = "binomial", link = "log",
       family_r = quote(binomial(link = "log")), epsilon = 1e-15, start = c(-1.2, 0, 0, 0, 0),
       description = "birthwt, binomial with the log link (relative risks); R's default start is invalid, so start = c(-1.2, 0, 0, 0, 0)"),
  list(case = "glm_extra_gamma_identity", data = "tests/reference/data/clotting_long.csv", index_col = "label",
       formula = "time ~ log_u + lot2 + log_u_lot2", family = "gamma", link = "identity",
       family_r = quote(Gamma(link = "identity")), epsilon = 1e-15,
       description = "clotting, both lots, Gamma with the identity link"),
  list(case = "glm_extra_inverse_gaussian_log", data = "tests/reference/data/clotting_long.csv", index_col = "label",
       formula = "time ~ log_u + lot2 + log_u_lot2", family = "inverse_gaussian", link = "log",
       family_r = quote(inverse.gaussian(link = "log")), epsilon = 1e-15,
       description = "clotting, both lots, inverse Gaussian with the log link"),
  list(case = "glm_extra_gaussian_inverse", data = "datasets/mtcars.csv", index_col = "model",
       formula = "mpg ~ wt + hp", family = "gaussian", link = "inverse",
       family_r = quote(gaussian(link = "inverse")), epsilon = 1e-15,
       description = "mtcars, Gaussian with the inverse link"),
  list(case = "glm_extra_negbin_sqrt", data = "tests/reference/data/quine_design.csv", index_col = "row",
       formula = "Days ~ EthN + SexM + AgeF1 + AgeF2 + AgeF3 + LrnSL", family = "negative_binomial",
       link = "sqrt", theta = 2, family_r = quote(negative.binomial(theta = 2, link = "sqrt")), epsilon = 1e-15,
       description = "quine, negative binomial (theta = 2, alpha = 0.5) with the square-root link"),
  list(case = "glm_extra_poisson_aliased", data = "tests/reference/glm_extra/data/insectsprays_aliased.csv",
       index_col = "row", formula = "count ~ sprayB + sprayC + sprayBC + sprayD + sprayE + sprayF",
       family = "poisson", link = "log", family_r = quote(poisson(link = "log")), epsilon = 1e-10,
       description = "InsectSprays with sprayBC = sprayB + sprayC (aliased: NA in R); epsilon = 1e-10, because glm.fit's QR tolerance is min(1e-7, epsilon / 1000) and 1e-18 would not see the exact collinearity")
)

run_case <- function(cs) {
  d <- read_case_data(cs$data, cs$index_col)
  ctrl <- substitute(glm.control(epsilon = E, maxit = 100), list(E = cs$epsilon))
  call <- substitute(glm(F, family = FAM, data = d, control = CTRL),
                     list(F = as.formula(cs$formula), FAM = cs$family_r, CTRL = ctrl))
  if (!is.null(cs$weights)) call$weights <- as.name(cs$weights)
  if (!is.null(cs$start)) call$start <- cs$start
  fw <- with_warnings(eval(call))
  pol <- polish(call, fw$value, d)
  fit <- pol$fit
  stopifnot(fit$converged)
  dir <- file.path(EXTRA_DIR, cs$case)
  unlink(dir, recursive = TRUE)
  f <- list()
  sm <- summary(fit)
  f$coefficients <- write_vector(coef(fit), file.path(dir, "coefficients.csv"), "estimate", "term")
  scal <- c(deviance = deviance(fit), null_deviance = fit$null.deviance, dispersion = sm$dispersion,
            df_residual = df.residual(fit), rank = fit$rank, aic = fit$aic, polish_refits = pol$refits,
            polish_last_change = pol$last_change)
  f$scalars <- write_vector(scal, file.path(dir, "scalars.csv"), "value", "name")
  f$fitted_values <- write_vector(fitted(fit), file.path(dir, "fitted_values.csv"), "fitted_values")
  f$prior_weights <- write_vector(fit$prior.weights, file.path(dir, "prior_weights.csv"), "prior_weights")
  f <- c(f, write_glm_influence(fit, dir, c("pearson", "deviance"), with_dfbetas = FALSE))
  list(
    case = cs$case,
    description = cs$description,
    data = cs$data,
    index_col = cs$index_col,
    formula_r = cs$formula,
    call_r = paste(deparse(call, width.cutoff = 500L), collapse = " "),
    weights = cs$weights,
    family = cs$family,
    link = family(fit)$link,
    theta = cs$theta,
    start = cs$start,
    terms = as.list(names(coef(fit))),
    aliased = as.list(names(coef(fit))[is.na(coef(fit))]),
    rank = fit$rank,
    dropped_rows = as.list(setdiff(row.names(d), names(hatvalues(fit)))),
    r_warnings = as.list(fw$warnings),
    polish_refits = pol$refits,
    files = f
  )
}

entries <- lapply(cases, function(cs) {
  cat("glm extra case", cs$case, "\n")
  run_case(cs)
})
doc <- list(
  format = "regdiag R reference values (extra GLM cases), manifest version 1",
  generated_by = "tests/reference/R/make_glm_extra_reference.R",
  r_version = R.version.string,
  packages = lapply(c(stats = "stats", MASS = "MASS"), function(p) packageDescription(p)$Version),
  cases = entries
)
writeLines(toJSON(doc, auto_unbox = TRUE, pretty = TRUE, null = "null", na = "null", digits = NA),
           file.path(EXTRA_DIR, "manifest.json"))
cat("wrote", length(entries), "extra glm cases\n")
