# MASS::rlm reference values for regdiag.rlm (robust M and MM regression).
#
# Run from the repository root:   Rscript tests/reference/R/make_rlm_reference.R
# Writes tests/reference/rlm/<case>/*.csv and tests/reference/rlm/data/*.csv; touches nothing else.
#
# rlm's defaults stop after maxit = 20 IRLS steps with acc = 1e-4 on the relative change of the residuals, short
# of the fixed point the estimator is defined by (MASS phones: "failed to converge in 20 steps"). Every case here
# is therefore fitted twice: with the defaults ("default_*" files, to show the gap) and iterated to the fixed point
# (maxit = 1000, acc = 1e-15; the IRLS stops when the change is at rounding level, recorded in scalars.csv).
# Standard errors are summary.rlm's (method "XtX", R's default).
# MM: rlm(method = "MM") starts from lqs(method = "S", k0 = 1.548) with a fixed seed; the S estimate (coefficients
# and scale) is written too, because it comes from random subsampling (regdiag's own S search is not expected to
# reproduce it to rounding, only its M step from the same start).

source(file.path("tests", "reference", "R", "common.R"))
suppressPackageStartupMessages(library(MASS))

OUT <- file.path(REF_DIR, "rlm")
dir.create(file.path(OUT, "data"), recursive = TRUE, showWarnings = FALSE)

write_vec <- function(x, labels, file, col = "value", label = "row") {
  df <- data.frame(a = sprintf('"%s"', labels), b = fmt17(x), stringsAsFactors = FALSE)
  lines <- c(sprintf('"%s","%s"', label, col), paste(df$a, df$b, sep = ","))
  writeLines(lines, file)
}

write_mat <- function(m, labels, file) {
  cn <- colnames(m)
  lines <- paste0('"row",', paste0('"', cn, '"', collapse = ","))
  body <- vapply(seq_len(nrow(m)), function(i)
    paste(c(sprintf('"%s"', labels[i]), fmt17(m[i, ])), collapse = ","), "")
  writeLines(c(lines, body), file)
}

write_input <- function(df, name) {
  lines <- c(paste0('"', c("row", names(df)), '"', collapse = ","),
             vapply(seq_len(nrow(df)), function(i)
               paste(c(sprintf('"%s"', rownames(df)[i]), vapply(df[i, ], fmt_short, "")), collapse = ","), ""))
  writeLines(lines, file.path(OUT, "data", paste0(name, ".csv")))
}

phones <- data.frame(year = MASS::phones$year, calls = MASS::phones$calls)
rownames(phones) <- as.character(seq_len(nrow(phones)))
animals <- data.frame(log_body = log(MASS::Animals$body), log_brain = log(MASS::Animals$brain))
rownames(animals) <- rownames(MASS::Animals)
hills <- MASS::hills
write_input(phones, "phones")
write_input(animals, "animals")
write_input(hills, "hills")

# hat values of the final weighted fit: R's hatvalues(rlm) where it works; it stops with an error when some final
# weights are 0 (bisquare, Hampel), so they are computed from qr(sqrt(w) x) (checked equal where both exist)
hat_w <- function(fit) {
  Q <- qr.Q(qr(sqrt(fit$w) * fit$x))
  h <- rowSums(Q^2)
  hv <- tryCatch(hatvalues(fit), error = function(e) NULL)
  if (!is.null(hv)) stopifnot(max(abs(hv - h)) < 1e-13)
  h
}

one_case <- function(name, formula, data, ...) {
  dir <- file.path(OUT, name)
  dir.create(dir, showWarnings = FALSE)
  labels <- rownames(data)
  default <- suppressWarnings(rlm(formula, data = data, ...))
  fit <- rlm(formula, data = data, maxit = 1000, acc = 1e-15, ...)
  s <- summary(fit)
  write_vec(coef(fit), names(coef(fit)), file.path(dir, "coefficients.csv"), "estimate", "term")
  write_vec(s$coefficients[, 2], names(coef(fit)), file.path(dir, "se.csv"), "se", "term")
  write_vec(coef(default), names(coef(default)), file.path(dir, "default_coefficients.csv"), "estimate", "term")
  write_vec(fit$w, labels, file.path(dir, "weights.csv"), "w")
  write_vec(residuals(fit), labels, file.path(dir, "residuals.csv"), "resid")
  write_vec(hat_w(fit), labels, file.path(dir, "hat.csv"), "hat")
  sc <- c(scale = fit$s, default_scale = default$s, iterations = length(fit$conv),
          last_change = tail(fit$conv, 1), converged = as.numeric(fit$converged),
          default_converged = as.numeric(default$converged), stddev = s$stddev)
  write_vec(sc, names(sc), file.path(dir, "scalars.csv"), "value", "name")
}

one_case("phones_huber", calls ~ year, phones)
one_case("phones_huber_proposal2", calls ~ year, phones, scale.est = "Huber")
one_case("phones_bisquare", calls ~ year, phones, psi = psi.bisquare)
one_case("phones_hampel", calls ~ year, phones, psi = psi.hampel)
one_case("animals_huber", log_brain ~ log_body, animals)
one_case("animals_bisquare", log_brain ~ log_body, animals, psi = psi.bisquare)
one_case("hills_huber", time ~ dist + climb, hills)
one_case("hills_hampel", time ~ dist + climb, hills, psi = psi.hampel)
one_case("hills_huber_k2", time ~ dist + climb, hills, k = 2)

# MM: the S start with a fixed seed, then the M step with the scale held at the S scale
mm_case <- function(name, formula, data) {
  dir <- file.path(OUT, name)
  dir.create(dir, showWarnings = FALSE)
  X <- model.matrix(formula, data)
  y <- model.response(model.frame(formula, data))
  set.seed(20240517)  # the S search as rlm(method = "MM") calls it
  S <- lqs(X, y, intercept = FALSE, method = "S", k0 = 1.548)
  set.seed(20240517)
  fit <- rlm(formula, data = data, method = "MM", maxit = 1000, acc = 1e-15)
  stopifnot(fit$s == S$scale[1])
  s <- summary(fit)
  labels <- rownames(data)
  write_vec(S$coefficients, names(coef(fit)), file.path(dir, "s_coefficients.csv"), "estimate", "term")
  write_vec(coef(fit), names(coef(fit)), file.path(dir, "coefficients.csv"), "estimate", "term")
  write_vec(s$coefficients[, 2], names(coef(fit)), file.path(dir, "se.csv"), "se", "term")
  write_vec(fit$w, labels, file.path(dir, "weights.csv"), "w")
  write_vec(hat_w(fit), labels, file.path(dir, "hat.csv"), "hat")
  sc <- c(scale = fit$s, s_scale = S$scale[1], iterations = length(fit$conv), converged = as.numeric(fit$converged),
          stddev = s$stddev)
  write_vec(sc, names(sc), file.path(dir, "scalars.csv"), "value", "name")
}
mm_case("phones_mm", calls ~ year, phones)
mm_case("hills_mm", time ~ dist + climb, hills)
cat("rlm reference written to", OUT, "\n")
