# R reference values for Cox proportional hazards models (survival::coxph): coefficients, covariance,
# log partial likelihood, residuals (martingale, deviance, score, schoenfeld, dfbeta, dfbetas) and, for the
# smaller cases, the coefficients of the exact leave-one-out refits.
#
# Run from the repository root:   Rscript tests/reference/R/make_coxph_reference.R
#
# Reads the survival package's data sets (ovarian, veteran, lung), writes the model's columns (dummy variables
# spelled out, dots in names replaced by underscores) to tests/reference/coxph/data/, one folder per case under
# tests/reference/coxph/, and tests/reference/coxph/manifest.json (this script's own manifest). Same number
# conventions as common.R (%.17g, quoted labels). Deterministic.
#
# Convergence: coxph stops when the relative change in the log partial likelihood is below eps; with the
# default eps = 1e-9 the coefficients can be ~1e-6 from the maximum. Every fit here uses eps = 1e-11 (it must exceed toler.chol),
# iter.max = 100 and is then polished: refitted from init = the previous coefficients until they change by less
# than 1e-13 (relative), as the GLM scripts do.

source(file.path("tests", "reference", "R", "common.R"))
suppressPackageStartupMessages(library(survival))

COX_DIR <- file.path(REF_DIR, "coxph")
CTRL <- coxph.control(eps = 1e-11, iter.max = 100)

# weighted = TRUE: case weights from the data's column w (R evaluates `weights = w` in the data)
cox_fit <- function(formula, data, ties, weighted, ...) {
  if (weighted) coxph(formula, data = data, ties = ties, control = CTRL, weights = w, ...)
  else coxph(formula, data = data, ties = ties, control = CTRL, ...)
}

polish_cox <- function(formula, data, ties, weighted = FALSE) {
  fit <- cox_fit(formula, data, ties, weighted)
  loglik_null <- fit$loglik[1]  # at beta = 0 (a refit from init reports the log-likelihood at init instead)
  b <- coef(fit)
  k <- 0L
  repeat {
    k <- k + 1L
    fit <- cox_fit(formula, data, ties, weighted, init = b, x = TRUE, model = TRUE)
    change <- max(abs(coef(fit) - b) / pmax(abs(b), .Machine$double.xmin))
    b <- coef(fit)
    if (change < POLISH_TOL || k >= POLISH_MAX) break
  }
  list(fit = fit, refits = k, last_change = change, loglik_null = loglik_null)
}

# ---- input data --------------------------------------------------------------------------------------------------

ov <- survival::ovarian
names(ov) <- gsub(".", "_", names(ov), fixed = TRUE)
row.names(ov) <- as.character(seq_len(nrow(ov)))
write_data_exact(ov, file.path(COX_DIR, "data", "ovarian.csv"), "row")

set.seed(20240517)
vet <- survival::veteran
for (lv in levels(vet$celltype)[-1]) vet[[paste0("celltype_", lv)]] <- as.numeric(vet$celltype == lv)
vet$celltype <- as.character(vet$celltype)
vet$w <- round(runif(nrow(vet), 0.5, 2.5), 3)  # case weights for the weighted cases
row.names(vet) <- as.character(seq_len(nrow(vet)))
write_data_exact(vet, file.path(COX_DIR, "data", "veteran.csv"), "row")

lung <- survival::lung
names(lung) <- gsub(".", "_", names(lung), fixed = TRUE)
lung <- lung[, c("inst", "time", "status", "age", "sex", "ph_ecog", "ph_karno", "wt_loss")]
lung <- lung[complete.cases(lung), ]
lung$w <- round(runif(nrow(lung), 0.5, 2.5), 3)
row.names(lung) <- as.character(row.names(lung))
write_data_exact(lung, file.path(COX_DIR, "data", "lung.csv"), "row")

cases <- list(
  list(case = "cox_ovarian_efron", data = ov, file = "tests/reference/coxph/data/ovarian.csv",
       formula = Surv(futime, fustat) ~ age + ecog_ps + rx, ties = "efron", loo = TRUE,
       description = "ovarian (n = 26, 12 events, no tied event times), Efron"),
  list(case = "cox_ovarian_strata_breslow", data = ov, file = "tests/reference/coxph/data/ovarian.csv",
       formula = Surv(futime, fustat) ~ age + ecog_ps + strata(rx), ties = "breslow", loo = TRUE,
       description = "ovarian stratified by treatment, Breslow"),
  list(case = "cox_veteran_efron", data = vet, file = "tests/reference/coxph/data/veteran.csv",
       formula = Surv(time, status) ~ trt + karno + diagtime + age + prior + celltype_smallcell +
         celltype_adeno + celltype_large, ties = "efron", loo = TRUE,
       description = "veteran (n = 137, 128 events, tied event times), cell type as dummies, Efron"),
  list(case = "cox_veteran_breslow", data = vet, file = "tests/reference/coxph/data/veteran.csv",
       formula = Surv(time, status) ~ trt + karno + diagtime + age + prior + celltype_smallcell +
         celltype_adeno + celltype_large, ties = "breslow", loo = FALSE,
       description = "veteran, Breslow"),
  list(case = "cox_veteran_strata_efron", data = vet, file = "tests/reference/coxph/data/veteran.csv",
       formula = Surv(time, status) ~ karno + age + prior + strata(trt, celltype), ties = "efron", loo = FALSE,
       description = "veteran stratified by treatment and cell type (8 strata), Efron"),
  list(case = "cox_lung_efron", data = lung, file = "tests/reference/coxph/data/lung.csv",
       formula = Surv(time, status) ~ age + sex + ph_ecog + ph_karno + wt_loss, ties = "efron", loo = TRUE,
       description = "lung, complete cases (n = 213), status coded 1/2, many tied times, Efron"),
  list(case = "cox_lung_strata_efron", data = lung, file = "tests/reference/coxph/data/lung.csv",
       formula = Surv(time, status) ~ age + ph_ecog + wt_loss + strata(sex), ties = "efron", loo = FALSE,
       description = "lung stratified by sex, Efron"),
  list(case = "cox_veteran_weights_efron", data = vet, file = "tests/reference/coxph/data/veteran.csv",
       formula = Surv(time, status) ~ trt + karno + diagtime + age + prior, ties = "efron", loo = TRUE,
       weighted = TRUE,
       description = "veteran with case weights w (uniform 0.5-2.5, 3 decimals), Efron, with leave-one-out refits"),
  list(case = "cox_lung_weights_strata_breslow", data = lung, file = "tests/reference/coxph/data/lung.csv",
       formula = Surv(time, status) ~ age + ph_ecog + wt_loss + strata(sex), ties = "breslow", loo = FALSE,
       weighted = TRUE, description = "lung with case weights w, stratified by sex, Breslow")
)

run_case <- function(cs) {
  dir <- file.path(COX_DIR, cs$case)
  d <- cs$data
  weighted <- isTRUE(cs$weighted)
  pf <- polish_cox(cs$formula, d, cs$ties, weighted)
  fit <- pf$fit
  f <- list()
  f$coefficients <- write_vector(coef(fit), file.path(dir, "coefficients.csv"), "coefficients", "term")
  f$se <- write_vector(setNames(sqrt(diag(fit$var)), names(coef(fit))), file.path(dir, "se.csv"), "se", "term")
  v <- fit$var
  dimnames(v) <- list(names(coef(fit)), names(coef(fit)))
  f$var <- write_matrix(v, file.path(dir, "var.csv"), "term")
  # with case weights that are not integers coxph's default is robust = TRUE: fit$var is then the sandwich
  # crossprod(dfbeta) and fit$naive.var the inverse information
  if (!is.null(fit$naive.var)) {
    nv <- fit$naive.var
    dimnames(nv) <- list(names(coef(fit)), names(coef(fit)))
    f$naive_var <- write_matrix(nv, file.path(dir, "naive_var.csv"), "term")
  }
  sc <- c(loglik_null = pf$loglik_null, loglik = fit$loglik[2], nevent = fit$nevent, n = fit$n,
          polish_refits = pf$refits, polish_last_change = pf$last_change)
  f$scalars <- write_vector(sc, file.path(dir, "scalars.csv"), "value", "name")
  for (ty in c("martingale", "deviance"))
    f[[ty]] <- write_vector(residuals(fit, type = ty), file.path(dir, paste0(ty, ".csv")), ty)
  for (ty in c("score", "dfbeta", "dfbetas")) {
    m <- residuals(fit, type = ty)
    if (is.null(dim(m))) m <- matrix(m, ncol = 1)
    dimnames(m) <- list(row.names(d), names(coef(fit)))
    f[[ty]] <- write_matrix(m, file.path(dir, paste0(ty, ".csv")))
  }
  # Schoenfeld residuals: one row per event, sorted by stratum and time (R's order); written with the event
  # time and the stratum so that tests can match them to observations (rows with equal time in a stratum
  # form a set)
  sch <- residuals(fit, type = "schoenfeld")
  if (is.null(dim(sch))) sch <- matrix(sch, ncol = 1)
  ord <- if (is.null(fit$strata)) order(fit$y[, 1]) else order(as.integer(fit$strata), fit$y[, 1])
  ev <- ord[fit$y[ord, 2] == 1]
  stratum <- if (is.null(fit$strata)) rep(1L, length(ev)) else as.integer(fit$strata)[ev]
  m <- cbind(time = fit$y[ev, 1], stratum = stratum, sch)
  colnames(m) <- c("time", "stratum", names(coef(fit)))
  rownames(m) <- as.character(seq_len(nrow(m)))
  f$schoenfeld <- write_matrix(m, file.path(dir, "schoenfeld.csv"))
  loo_note <- NULL
  if (cs$loo) {
    loo <- t(vapply(seq_len(nrow(d)), function(i) {
      coef(polish_cox(cs$formula, d[-i, ], cs$ties, weighted)$fit)
    }, numeric(length(coef(fit)))))
    if (length(coef(fit)) == 1) loo <- t(loo)
    dimnames(loo) <- list(row.names(d), names(coef(fit)))
    f$loo_coefficients <- write_matrix(loo, file.path(dir, "loo_coefficients.csv"))
  }
  list(case = cs$case, kind = "coxph", description = cs$description, data = cs$file, index_col = "row",
       formula_r = paste(deparse(cs$formula, width.cutoff = 500L), collapse = ""), ties = cs$ties,
       call_r = sprintf("coxph(%s, data = d, ties = \"%s\"%s, control = coxph.control(eps = 1e-11, iter.max = 100)), polished",
                        paste(deparse(cs$formula, width.cutoff = 500L), collapse = ""), cs$ties,
                        if (weighted) ", weights = w" else ""),
       weights = if (weighted) "w" else NULL,
       terms = names(coef(fit)), n_rows = nrow(d), n_events = fit$nevent, polish_refits = pf$refits,
       files = f)
}

entries <- lapply(cases, run_case)
doc <- list(
  format = "regdiag R reference values, coxph manifest version 1",
  generated_by = "tests/reference/R/make_coxph_reference.R",
  r_version = R.version.string,
  packages = list(survival = packageDescription("survival")$Version),
  cases = entries
)
writeLines(toJSON(doc, auto_unbox = TRUE, pretty = TRUE, null = "null", na = "null", digits = NA),
           file.path(COX_DIR, "manifest.json"))
