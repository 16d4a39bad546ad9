# R reference values for OLS / WLS influence diagnostics.
#
# Run from the repository root:   Rscript tests/reference/R/make_ols_reference.R
#
# Writes the case input files under tests/reference/data/ (those not taken from datasets/),
# one folder per case under tests/reference/lm/, and the "lm" entries of
# tests/reference/manifest.json. Deterministic (fixed seed). See tests/reference/README.md.

source(file.path("tests", "reference", "R", "common.R"))
suppressPackageStartupMessages(library(car))

set.seed(20240517L)
DATA_DIR <- file.path(REF_DIR, "data")
OUT_DIR <- file.path(REF_DIR, "lm")

# ---- input data ---------------------------------------------------------------------------

lcs <- read_case_data("datasets/LifeCycleSavings.csv", "country")
# Random positive weights (fixed seed), rounded to 4 decimals so the file stays readable.
lcs$w <- round(runif(nrow(lcs), 0.2, 5), 4)
# The same weights with a zero weight on Libya, the most influential country.
lcs$w_zero <- lcs$w
lcs$w_zero[row.names(lcs) == "Libya"] <- 0
write_data_exact(lcs, file.path(DATA_DIR, "lifecyclesavings_wls.csv"), "country")

sl <- read_case_data("datasets/stackloss.csv", NULL)
sl_design <- data.frame(
  Air_Flow = sl$Air_Flow,
  Water_Temp = sl$Water_Temp,
  Air_Water = sl$Air_Flow + sl$Water_Temp,     # = Air_Flow + Water_Temp: aliased
  Acid_Conc = sl$Acid_Conc,
  Acid_Conc_copy = sl$Acid_Conc,               # exact duplicate: aliased
  d21 = as.numeric(seq_len(nrow(sl)) == 21),   # indicator of observation 21: leverage 1
  stack_loss = sl$stack_loss,
  row.names = row.names(sl)
)
write_data_exact(sl_design, file.path(DATA_DIR, "stackloss_design.csv"), "row")

cars0 <- read_case_data("datasets/cars.csv", NULL)
cars_design <- data.frame(
  speed = cars0$speed,
  speed2 = cars0$speed^2,
  w_inv_speed = 1 / cars0$speed,               # variance proportional to speed
  dist = cars0$dist,
  row.names = row.names(cars0)
)
write_data_exact(cars_design, file.path(DATA_DIR, "cars_design.csv"), "row")

dun <- read_case_data("datasets/Duncan.csv", "occupation")
dun_design <- data.frame(
  income = dun$income,
  education = dun$education,
  type_prof = as.numeric(dun$type == "prof"),
  type_wc = as.numeric(dun$type == "wc"),
  prestige = dun$prestige,
  row.names = row.names(dun)
)
write_data_exact(dun_design, file.path(DATA_DIR, "duncan_design.csv"), "occupation")

# A regression through the origin with x = 0 in one row: that row's leverage is exactly 0, and R's is.inf uses
# n = sum(h > 0) = 9, not 10 (the last row's hat 0.315 is below 3/9 but above 3/10).
zero_lev <- data.frame(
  x = c(0, 1, 1, 1, 1, 1, 1, 1, 1.2, 1.97),
  y = c(0.3, 1.1, 0.9, 1.0, 1.2, 0.8, 1.05, 0.95, 1.3, 2.5),
  row.names = as.character(1:10)
)
write_data_exact(zero_lev, file.path(DATA_DIR, "zero_leverage_design.csv"), "row")

# ---- cases --------------------------------------------------------------------------------

cases <- list(
  list(case = "lm_lifecyclesavings", data = "datasets/LifeCycleSavings.csv", index_col = "country",
       response = "sr", x = c("pop15", "pop75", "dpi", "ddpi"),
       description = "R's ?influence.measures example: sr ~ pop15 + pop75 + dpi + ddpi"),
  list(case = "lm_stackloss", data = "datasets/stackloss.csv", index_col = NULL,
       response = "stack_loss", x = c("Air_Flow", "Water_Temp", "Acid_Conc"),
       description = "Brownlee's stack loss, full model"),
  list(case = "lm_duncan", data = "datasets/Duncan.csv", index_col = "occupation",
       response = "prestige", x = c("income", "education"),
       description = "Duncan's occupational prestige on income and education"),
  list(case = "lm_duncan_type", data = "tests/reference/data/duncan_design.csv", index_col = "occupation",
       response = "prestige", x = c("income", "education", "type_prof", "type_wc"),
       description = "Duncan with occupation type as two 0/1 dummy columns (baseline bc)"),
  list(case = "lm_cars_quadratic", data = "tests/reference/data/cars_design.csv", index_col = "row",
       response = "dist", x = c("speed", "speed2"),
       description = "cars, quadratic in speed (speed2 = speed^2 precomputed)"),
  list(case = "lm_cars_no_intercept", data = "datasets/cars.csv", index_col = NULL,
       response = "dist", x = c("speed"), intercept = FALSE,
       description = "cars, regression through the origin (no intercept)"),
  list(case = "wls_cars_inverse_speed", data = "tests/reference/data/cars_design.csv", index_col = "row",
       response = "dist", x = c("speed"), weights = "w_inv_speed",
       description = "cars, WLS with weights 1/speed (variance proportional to speed)"),
  list(case = "wls_lifecyclesavings_random", data = "tests/reference/data/lifecyclesavings_wls.csv",
       index_col = "country", response = "sr", x = c("pop15", "pop75", "dpi", "ddpi"), weights = "w",
       description = "LifeCycleSavings, WLS with random weights U(0.2, 5) rounded to 4 decimals (seed 20240517)"),
  list(case = "wls_lifecyclesavings_zero_weight", data = "tests/reference/data/lifecyclesavings_wls.csv",
       index_col = "country", response = "sr", x = c("pop15", "pop75", "dpi", "ddpi"), weights = "w_zero",
       description = "as wls_lifecyclesavings_random but with weight 0 on Libya: R drops Libya from the influence measures"),
  list(case = "lm_rank_deficient", data = "tests/reference/data/stackloss_design.csv", index_col = "row",
       response = "stack_loss", x = c("Air_Flow", "Water_Temp", "Air_Water", "Acid_Conc", "Acid_Conc_copy"),
       description = "stackloss with Air_Water = Air_Flow + Water_Temp (in the middle) and an exact copy of Acid_Conc: rank 4 of 6, two NA coefficients"),
  list(case = "lm_leverage_one_dummy", data = "tests/reference/data/stackloss_design.csv", index_col = "row",
       response = "stack_loss", x = c("Air_Flow", "Water_Temp", "Acid_Conc", "d21"),
       description = "stackloss with a 0/1 column that is 1 only on observation 21 (mean-shift outlier model): h_21 = 1"),
  list(case = "lm_zero_leverage_row", data = "tests/reference/data/zero_leverage_design.csv", index_col = "row",
       response = "y", x = c("x"), intercept = FALSE,
       description = "through the origin with x = 0 in row 1 (leverage exactly 0): is.inf counts n = sum(h > 0)"),
  list(case = "lm_anscombe4", data = "datasets/anscombe.csv", index_col = NULL,
       response = "y4", x = c("x4"),
       description = "Anscombe's fourth data set: x4 = 8 except observation 8 (x4 = 19), whose leverage is 1")
)

# ---- run ----------------------------------------------------------------------------------

run_lm_case <- function(cs) {
  intercept <- if (is.null(cs$intercept)) TRUE else cs$intercept
  d <- read_case_data(cs$data, cs$index_col)
  rhs <- paste(cs$x, collapse = " + ")
  if (!intercept) rhs <- paste("0 +", rhs)
  formula_r <- paste(cs$response, "~", rhs)
  call <- if (is.null(cs$weights)) {
    substitute(lm(F, data = d), list(F = as.formula(formula_r)))
  } else {
    substitute(lm(F, data = d, weights = W), list(F = as.formula(formula_r), W = as.name(cs$weights)))
  }
  fw <- with_warnings(eval(call))
  fit <- fw$value
  terms <- names(coef(fit))
  stopifnot(identical(terms, c(if (intercept) "(Intercept)", cs$x)))

  dir <- file.path(OUT_DIR, cs$case)
  unlink(dir, recursive = TRUE)
  f <- list()
  f$coefficients <- write_vector(coef(fit), file.path(dir, "coefficients.csv"), "estimate", "term")
  sm <- summary(fit)
  scal <- c(sigma = sm$sigma, df_residual = df.residual(fit), rank = fit$rank,
            nobs = nobs(fit), n_rows = nrow(d), rss = deviance(fit))
  f$scalars <- write_vector(scal, file.path(dir, "scalars.csv"), "value", "name")
  f$fitted_values <- write_vector(fitted(fit), file.path(dir, "fitted_values.csv"), "fitted_values")
  f$residuals <- write_vector(residuals(fit), file.path(dir, "residuals.csv"), "residuals")
  f$weighted_residuals <- write_vector(weighted.residuals(fit), file.path(dir, "weighted_residuals.csv"),
                                       "weighted_residuals")
  infl <- lm.influence(fit)
  f$hatvalues <- write_vector(hatvalues(fit), file.path(dir, "hatvalues.csv"), "hatvalues")
  f$loo_sigma <- write_vector(infl$sigma, file.path(dir, "loo_sigma.csv"), "loo_sigma")
  f$rstandard <- write_vector(rstandard(fit), file.path(dir, "rstandard.csv"), "rstandard")
  f$rstudent <- write_vector(rstudent(fit), file.path(dir, "rstudent.csv"), "rstudent")
  f$cooks_distance <- write_vector(cooks.distance(fit), file.path(dir, "cooks_distance.csv"), "cooks_distance")
  f$dffits <- write_vector(dffits(fit), file.path(dir, "dffits.csv"), "dffits")
  f$covratio <- write_vector(covratio(fit), file.path(dir, "covratio.csv"), "covratio")
  f$dfbeta <- write_matrix(dfbeta(fit), file.path(dir, "dfbeta.csv"))
  f$dfbetas <- write_matrix(dfbetas(fit), file.path(dir, "dfbetas.csv"))
  im <- influence.measures(fit)
  f$infmat <- write_matrix(im$infmat, file.path(dir, "infmat.csv"))
  f$is_inf <- write_matrix(im$is.inf, file.path(dir, "is_inf.csv"))
  ot <- outlier_test_matrix(fit)
  outlier_note <- NULL
  if (inherits(ot, "error")) {
    outlier_note <- paste("car::outlierTest failed:", conditionMessage(ot))
  } else {
    f$outlier_test <- write_matrix(ot, file.path(dir, "outlier_test.csv"))
  }

  # Exact leave-one-out refits (lm on the data without row i, same formula and weights).
  loo_cf <- matrix(NA_real_, nrow(d), length(terms), dimnames = list(row.names(d), terms))
  loo_sm <- matrix(NA_real_, nrow(d), 3, dimnames = list(row.names(d), c("sigma", "rank", "df_residual")))
  for (i in seq_len(nrow(d))) {
    di <- d[-i, , drop = FALSE]
    ci <- call; ci$data <- di
    fi <- eval(ci)
    loo_cf[i, ] <- coef(fi)[terms]
    loo_sm[i, ] <- c(summary(fi)$sigma, fi$rank, df.residual(fi))
  }
  f$loo_coefficients <- write_matrix(loo_cf, file.path(dir, "loo_coefficients.csv"))
  f$loo_summary <- write_matrix(loo_sm, file.path(dir, "loo_summary.csv"))

  used <- names(hatvalues(fit))
  list(
    case = cs$case,
    kind = "lm",
    description = cs$description,
    data = cs$data,
    index_col = cs$index_col,
    response = cs$response,
    terms = as.list(terms),
    intercept = intercept,
    formula_r = formula_r,
    call_r = paste(deparse(call, width.cutoff = 500L), collapse = " "),
    weights = cs$weights,
    offset = NULL,
    family = "gaussian",
    link = "identity",
    control = NULL,
    n_rows = nrow(d),
    rank = fit$rank,
    aliased = as.list(terms[is.na(coef(fit))]),
    dropped_rows = as.list(setdiff(row.names(d), used)),
    hat_one_rows = as.list(used[hatvalues(fit) == 1]),
    r_warnings = as.list(fw$warnings),
    notes = outlier_note,
    files = f
  )
}

entries <- lapply(cases, function(cs) {
  cat("lm case", cs$case, "\n")
  run_lm_case(cs)
})
update_manifest(entries, "lm")
cat("wrote", length(entries), "lm cases\n")
