# R reference values for GLM influence diagnostics.
#
# Run from the repository root:   Rscript tests/reference/R/make_glm_reference.R
#
# Writes the case input files under tests/reference/data/ (those not taken from datasets/),
# one folder per case under tests/reference/glm/, and the "glm" entries of
# tests/reference/manifest.json. Every fit uses glm.control(epsilon = 1e-15, maxit = 100).
# Deterministic. See tests/reference/README.md.

source(file.path("tests", "reference", "R", "common.R"))
suppressPackageStartupMessages({
  library(MASS)
  library(car)
})

set.seed(20240517L)
DATA_DIR <- file.path(REF_DIR, "data")
OUT_DIR <- file.path(REF_DIR, "glm")
CONTROL <- list(epsilon = 1e-15, maxit = 100)
NB_THETA <- 1.25   # fixed theta of the negative-binomial case; alpha = 1 / theta = 0.8

# ---- input data ---------------------------------------------------------------------------

bw <- read_case_data("datasets/birthwt.csv", "id")
bw_design <- data.frame(
  low = bw$low, age = bw$age, lwt = bw$lwt,
  race_black = as.numeric(bw$race == 2), race_other = as.numeric(bw$race == 3),
  smoke = bw$smoke, ptl = bw$ptl, ht = bw$ht, ui = bw$ui, ftv = bw$ftv,
  row.names = row.names(bw)
)
write_data_exact(bw_design, file.path(DATA_DIR, "birthwt_design.csv"), "id")

bud <- read_case_data("datasets/budworm.csv", NULL)
bud_design <- data.frame(
  ldose = bud$ldose, sexM = as.numeric(bud$sex == "M"),
  numdead = bud$numdead, total = bud$total, prop = bud$prop,
  row.names = row.names(bud)
)
write_data_exact(bud_design, file.path(DATA_DIR, "budworm_design.csv"), "row")

ins <- read_case_data("datasets/InsectSprays.csv", NULL)
ins_design <- data.frame(count = ins$count, row.names = row.names(ins))
for (lv in c("B", "C", "D", "E", "F")) ins_design[[paste0("spray", lv)]] <- as.numeric(ins$spray == lv)
write_data_exact(ins_design, file.path(DATA_DIR, "insectsprays_design.csv"), "row")

# MASS::Insurance: Claims ~ District + Group + Age + offset(log(Holders)), treatment dummies
# numbered by level: District 1..4; Group 1..4 = <1l, 1-1.5l, 1.5-2l, >2l;
# Age 1..4 = <25, 25-29, 30-35, >35.
Ins <- MASS::Insurance
insur <- data.frame(
  District = as.character(Ins$District), Group = as.character(Ins$Group), Age = as.character(Ins$Age),
  Holders = Ins$Holders, Claims = Ins$Claims, log_Holders = log(Ins$Holders),
  row.names = row.names(Ins), stringsAsFactors = FALSE
)
for (v in c("District", "Group", "Age"))
  for (k in 2:4) insur[[paste0(v, k)]] <- as.numeric(as.integer(Ins[[v]]) == k)
write_data_exact(insur, file.path(DATA_DIR, "insurance_design.csv"), "row")

clot <- read_case_data("datasets/clotting.csv", NULL)
clot_design <- data.frame(u = clot$u, log_u = log(clot$u), lot1 = clot$lot1, lot2 = clot$lot2,
                          row.names = row.names(clot))
write_data_exact(clot_design, file.path(DATA_DIR, "clotting_design.csv"), "row")
clot_long <- data.frame(
  u = rep(clot$u, 2), log_u = rep(log(clot$u), 2),
  lot2 = rep(c(0, 1), each = nrow(clot)),
  time = c(clot$lot1, clot$lot2),
  row.names = paste0(rep(c("lot1_u", "lot2_u"), each = nrow(clot)), clot$u)
)
clot_long$log_u_lot2 <- clot_long$log_u * clot_long$lot2
write_data_exact(clot_long, file.path(DATA_DIR, "clotting_long.csv"), "label")

qu <- read_case_data("datasets/quine.csv", NULL)
qu_design <- data.frame(
  Days = qu$Days, EthN = as.numeric(qu$Eth == "N"), SexM = as.numeric(qu$Sex == "M"),
  AgeF1 = as.numeric(qu$Age == "F1"), AgeF2 = as.numeric(qu$Age == "F2"),
  AgeF3 = as.numeric(qu$Age == "F3"), LrnSL = as.numeric(qu$Lrn == "SL"),
  row.names = row.names(qu)
)
write_data_exact(qu_design, file.path(DATA_DIR, "quine_design.csv"), "row")

# ---- cases --------------------------------------------------------------------------------

BW_X <- c("age", "lwt", "race_black", "race_other", "smoke", "ptl", "ht", "ui", "ftv")
INS_X <- paste0("spray", c("B", "C", "D", "E", "F"))
INSUR_X <- c(paste0("District", 2:4), paste0("Group", 2:4), paste0("Age", 2:4))
QU_X <- c("EthN", "SexM", "AgeF1", "AgeF2", "AgeF3", "LrnSL")

cases <- list(
  list(case = "glm_binomial_logit_birthwt", data = "tests/reference/data/birthwt_design.csv", index_col = "id",
       response = "low", x = BW_X, family = "binomial", link = "logit",
       family_r = quote(binomial(link = "logit")),
       description = "birthwt, 0/1 logistic regression on all risk factors (race as two dummies)"),
  list(case = "glm_binomial_probit_birthwt", data = "tests/reference/data/birthwt_design.csv", index_col = "id",
       response = "low", x = BW_X, family = "binomial", link = "probit",
       family_r = quote(binomial(link = "probit")),
       description = "birthwt, 0/1 probit regression"),
  list(case = "glm_binomial_cloglog_birthwt", data = "tests/reference/data/birthwt_design.csv", index_col = "id",
       response = "low", x = BW_X, family = "binomial", link = "cloglog",
       family_r = quote(binomial(link = "cloglog")),
       description = "birthwt, 0/1 complementary log-log regression"),
  list(case = "glm_binomial_logit_mtcars", data = "datasets/mtcars.csv", index_col = "model",
       response = "am", x = c("wt"), family = "binomial", link = "logit",
       family_r = quote(binomial(link = "logit")), loo = TRUE,
       description = "mtcars, am ~ wt, small 0/1 logistic regression; with exact leave-one-out refits"),
  list(case = "glm_binomial_logit_budworm", data = "tests/reference/data/budworm_design.csv", index_col = "row",
       response = "prop", x = c("ldose", "sexM"), weights = "total", family = "binomial", link = "logit",
       family_r = quote(binomial(link = "logit")), loo = TRUE,
       description = "budworm, proportion killed with weights = trials (20); with exact leave-one-out refits"),
  list(case = "glm_poisson_log_insectsprays", data = "tests/reference/data/insectsprays_design.csv",
       index_col = "row", response = "count", x = INS_X, family = "poisson", link = "log",
       family_r = quote(poisson(link = "log")),
       description = "InsectSprays, one-way Poisson log-linear model (spray A baseline)"),
  list(case = "glm_poisson_sqrt_insectsprays", data = "tests/reference/data/insectsprays_design.csv",
       index_col = "row", response = "count", x = INS_X, family = "poisson", link = "sqrt",
       family_r = quote(poisson(link = "sqrt")),
       description = "InsectSprays, Poisson with square-root link"),
  list(case = "glm_poisson_identity_insectsprays", data = "tests/reference/data/insectsprays_design.csv",
       index_col = "row", response = "count", x = INS_X, family = "poisson", link = "identity",
       family_r = quote(poisson(link = "identity")),
       description = "InsectSprays, Poisson with identity link"),
  list(case = "glm_poisson_log_offset_insurance", data = "tests/reference/data/insurance_design.csv",
       index_col = "row", response = "Claims", x = INSUR_X, offset = "log_Holders",
       family = "poisson", link = "log", family_r = quote(poisson(link = "log")), loo = TRUE,
       description = "MASS Insurance, Claims ~ District + Group + Age + offset(log(Holders)) (treatment dummies); with exact leave-one-out refits"),
  list(case = "glm_gamma_inverse_clotting", data = "tests/reference/data/clotting_design.csv", index_col = "row",
       response = "lot1", x = c("log_u"), family = "gamma", link = "inverse",
       family_r = quote(Gamma(link = "inverse")), loo = TRUE,
       description = "clotting lot1 ~ log(u), Gamma with inverse link (R's ?glm example); with exact leave-one-out refits"),
  list(case = "glm_gamma_log_clotting_long", data = "tests/reference/data/clotting_long.csv", index_col = "label",
       response = "time", x = c("log_u", "lot2", "log_u_lot2"), family = "gamma", link = "log",
       family_r = quote(Gamma(link = "log")),
       description = "clotting, both lots stacked (18 rows), separate lines per lot, Gamma with log link"),
  list(case = "glm_inverse_gaussian_clotting", data = "tests/reference/data/clotting_design.csv", index_col = "row",
       response = "lot1", x = c("log_u"), family = "inverse_gaussian", link = "1/mu^2",
       family_r = quote(inverse.gaussian(link = "1/mu^2")),
       description = "clotting lot1 ~ log(u), inverse Gaussian with its canonical 1/mu^2 link"),
  list(case = "glm_gaussian_log_mtcars", data = "datasets/mtcars.csv", index_col = "model",
       response = "mpg", x = c("wt", "hp"), family = "gaussian", link = "log",
       family_r = quote(gaussian(link = "log")),
       description = "mtcars, mpg ~ wt + hp, Gaussian with log link"),
  list(case = "glm_gaussian_identity_lifecyclesavings", data = "datasets/LifeCycleSavings.csv",
       index_col = "country", response = "sr", x = c("pop15", "pop75", "dpi", "ddpi"),
       family = "gaussian", link = "identity", family_r = quote(gaussian(link = "identity")),
       description = "LifeCycleSavings through glm(): same fit as lm_lifecyclesavings, R's glm influence code path"),
  list(case = "glm_negbin_fixed_theta_quine", data = "tests/reference/data/quine_design.csv", index_col = "row",
       response = "Days", x = QU_X, family = "negative_binomial", link = "log", theta = NB_THETA,
       family_r = substitute(negative.binomial(theta = TH, link = "log"), list(TH = NB_THETA)),
       dispersion1_extras = TRUE,
       description = "quine, glm() with MASS::negative.binomial(theta = 1.25) (alpha = 0.8): summary()$dispersion is the Pearson estimate, not 1; *_dispersion1 files give the same quantities with dispersion 1"),
  list(case = "glm_negbin_glmnb_quine", data = "tests/reference/data/quine_design.csv", index_col = "row",
       response = "Days", x = QU_X, family = "negative_binomial", link = "log", glm_nb = TRUE,
       description = "quine, MASS::glm.nb (theta estimated by maximum likelihood, see scalars.csv theta; dispersion 1)")
)

# ---- run ----------------------------------------------------------------------------------

ctrl_call <- substitute(glm.control(epsilon = E, maxit = M), list(E = CONTROL$epsilon, M = CONTROL$maxit))

build_call <- function(cs, formula) {
  if (isTRUE(cs$glm_nb)) {
    call <- substitute(glm.nb(F, data = d, control = CTRL), list(F = formula, CTRL = ctrl_call))
  } else {
    call <- substitute(glm(F, family = FAM, data = d, control = CTRL),
                       list(F = formula, FAM = cs$family_r, CTRL = ctrl_call))
  }
  if (!is.null(cs$weights)) call$weights <- as.name(cs$weights)
  call
}

run_glm_case <- function(cs) {
  d <- read_case_data(cs$data, cs$index_col)
  rhs <- paste(cs$x, collapse = " + ")
  if (!is.null(cs$offset)) rhs <- paste0(rhs, " + offset(", cs$offset, ")")
  formula_r <- paste(cs$response, "~", rhs)
  call <- build_call(cs, as.formula(formula_r))
  fw <- with_warnings(eval(call))
  cold <- fw$value
  pol <- polish(call, cold, d, isTRUE(cs$glm_nb))
  fit <- pol$fit
  terms <- names(coef(fit))
  stopifnot(identical(terms, c("(Intercept)", cs$x)))
  link_r <- family(fit)$link
  stopifnot(identical(link_r, cs$link))

  dir <- file.path(OUT_DIR, cs$case)
  unlink(dir, recursive = TRUE)
  f <- list()
  sm <- summary(fit)
  f$coefficients <- write_vector(coef(fit), file.path(dir, "coefficients.csv"), "estimate", "term")
  f$coefficients_cold <- write_vector(coef(cold), file.path(dir, "coefficients_cold.csv"), "estimate", "term")
  theta <- if (isTRUE(cs$glm_nb)) fit$theta else cs$theta
  cold_rel <- max(abs(coef(cold) - coef(fit)) / abs(coef(fit)))
  scal <- c(deviance = deviance(fit), null_deviance = fit$null.deviance, dispersion = sm$dispersion,
            iter = cold$iter, converged = as.numeric(cold$converged), df_residual = df.residual(fit),
            df_null = fit$df.null, rank = fit$rank, nobs = nobs(fit), n_rows = nrow(d), aic = fit$aic,
            polish_refits = pol$refits, polish_last_change = pol$last_change,
            cold_coef_max_rel_diff = cold_rel, deviance_cold = deviance(cold))
  if (!is.null(theta)) scal <- c(scal, theta = theta, alpha = 1 / theta)
  if (isTRUE(cs$glm_nb)) scal <- c(scal, theta_se = fit$SE.theta, twologlik = fit$twologlik)
  f$scalars <- write_vector(scal, file.path(dir, "scalars.csv"), "value", "name")

  f$fitted_values <- write_vector(fitted(fit), file.path(dir, "fitted_values.csv"), "fitted_values")
  f$linear_predictors <- write_vector(fit$linear.predictors, file.path(dir, "linear_predictors.csv"),
                                      "linear_predictors")
  f$prior_weights <- write_vector(fit$prior.weights, file.path(dir, "prior_weights.csv"), "prior_weights")
  f$working_weights <- write_vector(fit$weights, file.path(dir, "working_weights.csv"), "working_weights")
  infl <- influence(fit)
  f <- c(f, write_glm_influence(fit, dir, c("response", "working", "pearson", "deviance"), with_dfbetas = TRUE,
                                infl = infl))
  if (isTRUE(cs$dispersion1_extras)) {
    h <- infl$hat
    r_dev <- infl$dev.res / sqrt(1 - h)
    r_pea <- infl$pear.res / sqrt(1 - h)
    r_dev[is.infinite(r_dev)] <- NaN
    r_pea[is.infinite(r_pea)] <- NaN
    f$rstandard_deviance_dispersion1 <- write_vector(r_dev, file.path(dir, "rstandard_deviance_dispersion1.csv"),
                                                     "rstandard_deviance_dispersion1")
    f$rstandard_pearson_dispersion1 <- write_vector(r_pea, file.path(dir, "rstandard_pearson_dispersion1.csv"),
                                                    "rstandard_pearson_dispersion1")
    f$cooks_distance_dispersion1 <- write_vector(cooks.distance(fit, dispersion = 1),
                                                 file.path(dir, "cooks_distance_dispersion1.csv"),
                                                 "cooks_distance_dispersion1")
  }
  ot <- outlier_test_matrix(fit)
  notes <- NULL
  if (inherits(ot, "error")) {
    notes <- paste("car::outlierTest failed:", conditionMessage(ot))
  } else {
    f$outlier_test <- write_matrix(ot, file.path(dir, "outlier_test.csv"))
  }

  loo_warnings <- character()
  if (isTRUE(cs$loo)) {
    # Exact leave-one-out: refit on the data without row i, same call (default starting values).
    loo_cf <- matrix(NA_real_, nrow(d), length(terms), dimnames = list(row.names(d), terms))
    loo_sm <- matrix(NA_real_, nrow(d), 5, dimnames = list(row.names(d),
                     c("deviance", "dispersion", "iter_cold", "converged_cold", "rank")))
    for (i in seq_len(nrow(d))) {
      di <- d[-i, , drop = FALSE]
      ci <- call; ci$data <- di
      wi <- with_warnings(eval(ci))
      fc <- wi$value
      if (length(wi$warnings)) loo_warnings <- c(loo_warnings, paste0(row.names(d)[i], ": ", wi$warnings))
      fi <- polish(call, fc, di, isTRUE(cs$glm_nb))$fit
      loo_cf[i, ] <- coef(fi)[terms]
      loo_sm[i, ] <- c(deviance(fi), summary(fi)$dispersion, fc$iter, as.numeric(fc$converged), fi$rank)
    }
    f$loo_coefficients <- write_matrix(loo_cf, file.path(dir, "loo_coefficients.csv"))
    f$loo_summary <- write_matrix(loo_sm, file.path(dir, "loo_summary.csv"))
  }

  used <- names(hatvalues(fit))
  list(
    case = cs$case,
    kind = "glm",
    description = cs$description,
    data = cs$data,
    index_col = cs$index_col,
    response = cs$response,
    terms = as.list(terms),
    intercept = TRUE,
    formula_r = formula_r,
    call_r = paste(deparse(call, width.cutoff = 500L), collapse = " "),
    weights = cs$weights,
    offset = cs$offset,
    family = cs$family,
    link = link_r,
    family_r = family(fit)$family,
    theta = if (!is.null(cs$theta)) json_num(cs$theta) else NULL,
    alpha = if (!is.null(cs$theta)) json_num(1 / cs$theta) else NULL,
    theta_estimated = isTRUE(cs$glm_nb),
    control = list(epsilon = json_num(CONTROL$epsilon), maxit = json_num(CONTROL$maxit)),
    converged = cold$converged,
    iter = cold$iter,
    polish_refits = pol$refits,
    n_rows = nrow(d),
    rank = fit$rank,
    aliased = as.list(terms[is.na(coef(fit))]),
    dropped_rows = as.list(setdiff(row.names(d), used)),
    hat_one_rows = as.list(used[hatvalues(fit) == 1]),
    r_warnings = as.list(fw$warnings),
    loo_warnings = as.list(loo_warnings),
    notes = notes,
    files = f
  )
}

entries <- lapply(cases, function(cs) {
  cat("glm case", cs$case, "\n")
  run_glm_case(cs)
})
update_manifest(entries, "glm")
cat("wrote", length(entries), "glm cases\n")
