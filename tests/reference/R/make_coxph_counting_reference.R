# R reference values for Cox models with counting-process data (Surv(start, stop, event)), offsets and clusters
# (survival::coxph): coefficients, the naive and robust (cluster) variances, log partial likelihood, martingale,
# score and dfbeta residuals, and the coefficients refitted without each cluster (subject).
#
# Run from the repository root:   Rscript tests/reference/R/make_coxph_counting_reference.R
#
# Writes tests/reference/coxph_counting/data/*.csv and tests/reference/coxph_counting/<case>/*.csv; touches nothing
# else. Fits use coxph.control(eps = 1e-11, iter.max = 100) and are polished (refitted from the previous
# coefficients until they change by less than 1e-13, relative), as make_coxph_reference.R does. Deterministic.

source(file.path("tests", "reference", "R", "common.R"))
suppressPackageStartupMessages(library(survival))

OUT <- file.path(REF_DIR, "coxph_counting")
CTRL <- coxph.control(eps = 1e-11, iter.max = 100)

polish <- function(formula, data, ties) {
  fit <- coxph(formula, data = data, ties = ties, control = CTRL)
  b <- coef(fit)
  for (k in 1:20) {
    fit <- coxph(formula, data = data, ties = ties, control = CTRL, init = b, model = TRUE, x = TRUE)
    change <- max(abs(coef(fit) - b) / pmax(abs(b), .Machine$double.xmin))
    b <- coef(fit)
    if (change < 1e-13) break
  }
  fit
}

heart <- survival::heart
heart$transplant <- as.numeric(as.character(heart$transplant))
row.names(heart) <- as.character(seq_len(nrow(heart)))
write_data_exact(heart, file.path(OUT, "data", "heart.csv"), "row")

ov <- survival::ovarian
names(ov) <- gsub(".", "_", names(ov), fixed = TRUE)
ov$off <- ov$age / 20
row.names(ov) <- as.character(seq_len(nrow(ov)))
write_data_exact(ov, file.path(OUT, "data", "ovarian.csv"), "row")

lung <- survival::lung
names(lung) <- gsub(".", "_", names(lung), fixed = TRUE)
lung <- lung[, c("inst", "time", "status", "age", "sex", "ph_ecog")]
lung <- lung[complete.cases(lung), ]
row.names(lung) <- as.character(row.names(lung))
write_data_exact(lung, file.path(OUT, "data", "lung.csv"), "row")

run_case <- function(name, formula, data, ties, cluster = NULL) {
  dir <- file.path(OUT, name)
  dir.create(dir, showWarnings = FALSE, recursive = TRUE)
  fit <- polish(formula, data, ties)
  nm <- names(coef(fit))
  write_vector(coef(fit), file.path(dir, "coefficients.csv"), "coefficients", "term")
  naive <- if (is.null(fit$naive.var)) fit$var else fit$naive.var
  dimnames(naive) <- list(nm, nm)
  write_matrix(naive, file.path(dir, "naive_var.csv"), "term")
  if (!is.null(fit$naive.var)) {
    v <- fit$var
    dimnames(v) <- list(nm, nm)
    write_matrix(v, file.path(dir, "robust_var.csv"), "term")
  }
  null <- coxph(formula, data = data, ties = ties, control = CTRL)$loglik[1]  # a refit from init reports init's
  write_vector(c(loglik_null = null, loglik = fit$loglik[2], nevent = fit$nevent, n = fit$n),
               file.path(dir, "scalars.csv"), "value", "name")
  write_vector(residuals(fit, type = "martingale"), file.path(dir, "martingale.csv"), "martingale")
  for (ty in c("score", "dfbeta", "dfbetas")) {
    m <- residuals(fit, type = ty)
    if (is.null(dim(m))) m <- matrix(m, ncol = 1)
    dimnames(m) <- list(row.names(data), nm)
    write_matrix(m, file.path(dir, paste0(ty, ".csv")))
  }
  if (!is.null(cluster)) {
    ids <- unique(data[[cluster]])
    loo <- t(vapply(ids, function(g) coef(polish(formula, data[data[[cluster]] != g, ], ties)), numeric(length(nm))))
    if (length(nm) == 1) loo <- t(loo)
    dimnames(loo) <- list(as.character(ids), nm)
    write_matrix(loo, file.path(dir, "loo_cluster_coefficients.csv"), "cluster")
  }
}

# heart: 172 rows of 103 subjects (a row before and one after a transplant), tied times
run_case("heart_efron_cluster", Surv(start, stop, event) ~ age + year + surgery + transplant + cluster(id), heart,
         "efron", cluster = "id")
run_case("heart_breslow_strata", Surv(start, stop, event) ~ age + year + transplant + strata(surgery), heart,
         "breslow")
# ovarian with an offset (age / 20 on the log hazard scale)
run_case("ovarian_offset_efron", Surv(futime, fustat) ~ ecog_ps + rx + offset(off), ov, "efron")
# lung: right-censored, clustered by institution
run_case("lung_cluster_efron", Surv(time, status) ~ age + sex + ph_ecog + cluster(inst), lung, "efron",
         cluster = "inst")
cat("coxph counting-process reference written to", OUT, "\n")
