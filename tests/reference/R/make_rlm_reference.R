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
# MM: rlm(method = "MM") starts from lqs(method = "S", k0 = 1.548); the S estimate is written too (see mm_case).

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
one_case("phones_huber_offset", calls ~ year + offset(year / 2), phones)

# MM: rlm(method = "MM") as R runs it (lqs's S-estimate with nsamp = "best", then the M step with the scale held
# at the S scale). With choose(n, p) < 5000 lqs tries every p-subset, so the S-estimate does not depend on the
# seed; otherwise (hills_mm, stackloss_mm) it samples subsets with R's generator, and the tests start regdiag from
# the S-estimate written here. stackloss_mm's M step stops at maxit = 1000 with the change at rounding level
# (1e-15 to 1e-14, the coefficients then move by 1e-13 in 4000 more steps). lqs returns its refined coefficients (the start of rlm's M step) under the name
# "coefficents" and the best subset's exact fit under "coefficients"; both are written.
mm_case <- function(name, formula, data, ...) {
  dir <- file.path(OUT, name)
  dir.create(dir, showWarnings = FALSE)
  X <- model.matrix(formula, data)
  y <- model.response(model.frame(formula, data))
  set.seed(20240517)  # the S search as rlm(method = "MM") calls it
  S <- lqs(X, y, intercept = FALSE, method = "S", k0 = 1.548)
  set.seed(20240517)
  fit <- rlm(formula, data = data, method = "MM", maxit = 1000, acc = 1e-15, ...)
  stopifnot(fit$s == S$scale[1])
  s <- summary(fit)
  labels <- rownames(data)
  write_vec(S$coefficients, names(coef(fit)), file.path(dir, "s_coefficients.csv"), "estimate", "term")
  write_vec(S$coefficents, names(coef(fit)), file.path(dir, "s_refined_coefficients.csv"), "estimate", "term")
  write_vec(S$bestone, seq_along(S$bestone), file.path(dir, "s_best_subset.csv"), "row", "k")
  write_vec(coef(fit), names(coef(fit)), file.path(dir, "coefficients.csv"), "estimate", "term")
  write_vec(s$coefficients[, 2], names(coef(fit)), file.path(dir, "se.csv"), "se", "term")
  write_vec(fit$w, labels, file.path(dir, "weights.csv"), "w")
  write_vec(residuals(fit), labels, file.path(dir, "residuals.csv"), "resid")
  write_vec(hat_w(fit), labels, file.path(dir, "hat.csv"), "hat")
  nsub <- choose(nrow(X), ncol(X))
  sc <- c(scale = fit$s, s_scale = S$scale[1], s_crit = S$crit, exhaustive = as.numeric(nsub < 5000),
          singular = as.numeric(sub(" .*", "", S$sing)), iterations = length(fit$conv),
          last_change = tail(fit$conv, 1), converged = as.numeric(fit$converged), stddev = s$stddev)
  write_vec(sc, names(sc), file.path(dir, "scalars.csv"), "value", "name")
}
stackloss <- data.frame(Air_Flow = datasets::stackloss$Air.Flow, Water_Temp = datasets::stackloss$Water.Temp,
                        Acid_Conc = datasets::stackloss$Acid.Conc., stack_loss = datasets::stackloss$stack.loss)
rownames(stackloss) <- as.character(seq_len(nrow(stackloss)))
cars <- datasets::cars
rownames(cars) <- as.character(seq_len(nrow(cars)))
mtcars <- datasets::mtcars[, c("mpg", "wt", "hp")]
write_input(stackloss, "stackloss")
write_input(cars, "cars")
write_input(mtcars, "mtcars")

# R's uniform random numbers after set.seed(20240517) (the draws lqs's sampled search starts from)
set.seed(20240517)
write_vec(runif(10), seq_len(10), file.path(OUT, "data", "runif_20240517.csv"), "u", "k")
mm_case("phones_mm", calls ~ year, phones)                             # choose(24, 2) = 276 subsets
mm_case("hills_mm", time ~ dist + climb, hills)                        # choose(35, 3) = 6545: sampled
mm_case("animals_mm", log_brain ~ log_body, animals)                   # 378
mm_case("hills_dist_mm", time ~ dist, hills)                           # 595
mm_case("stackloss2_mm", stack_loss ~ Air_Flow + Water_Temp, stackloss)  # 1330
mm_case("stackloss_mm", stack_loss ~ Air_Flow + Water_Temp + Acid_Conc, stackloss)  # 5985: sampled
mm_case("cars_mm", dist ~ speed, cars)                                 # 1225, with singular subsets (tied speeds)
mm_case("mtcars_mm", mpg ~ wt + hp, mtcars)                            # 4960
mm_case("phones_mm_c6", calls ~ year, phones, c = 6)                   # the M step's bisquare constant
# prior weights: rlm(weights = w) with wt.method = "inv.var" (MASS's default: the rows scaled by sqrt(w)) and
# "case" (the IRLS weights multiplied by w, the MAD a weighted MAD, summary.rlm's weighted stddev). The calls are
# written out because summary.rlm reads wt.method from the call. Hat values: the weighted fit's, from the working
# design (x sqrt(w) for inv.var) and fit$w (which includes w for case); checked against hatvalues() where it works.
set.seed(20240517)
phones_w <- cbind(phones, w = round(runif(nrow(phones), 0.5, 2), 2))
hills_w <- cbind(hills, w = sample(1:3, nrow(hills), replace = TRUE))
write_input(phones_w, "phones_w")
write_input(hills_w, "hills_w")
weighted_case <- function(name, fit, data, invvar) {
  dir <- file.path(OUT, name)
  dir.create(dir, showWarnings = FALSE)
  labels <- rownames(data)
  s <- summary(fit)
  xw <- if (invvar) fit$x * sqrt(data$w) else fit$x
  h <- rowSums(qr.Q(qr(sqrt(fit$w) * xw))^2)
  hv <- tryCatch(hatvalues(fit), error = function(e) NULL)
  if (!is.null(hv)) stopifnot(max(abs(hv - h)) < 1e-13)
  write_vec(coef(fit), names(coef(fit)), file.path(dir, "coefficients.csv"), "estimate", "term")
  write_vec(s$coefficients[, 2], names(coef(fit)), file.path(dir, "se.csv"), "se", "term")
  write_vec(fit$w, labels, file.path(dir, "weights.csv"), "w")
  write_vec(residuals(fit), labels, file.path(dir, "residuals.csv"), "resid")
  write_vec(fit$wresid, labels, file.path(dir, "wresid.csv"), "wresid")
  write_vec(h, labels, file.path(dir, "hat.csv"), "hat")
  sc <- c(scale = unname(fit$s), iterations = length(fit$conv), last_change = tail(fit$conv, 1),
          converged = as.numeric(fit$converged), stddev = s$stddev)
  write_vec(sc, names(sc), file.path(dir, "scalars.csv"), "value", "name")
}
weighted_case("phones_huber_invvar",
              rlm(calls ~ year, data = phones_w, weights = w, maxit = 1000, acc = 1e-15), phones_w, TRUE)
weighted_case("phones_bisquare_case",
              rlm(calls ~ year, data = phones_w, weights = w, wt.method = "case", psi = psi.bisquare,
                  maxit = 1000, acc = 1e-15), phones_w, FALSE)
weighted_case("hills_huber_case_proposal2",
              rlm(time ~ dist + climb, data = hills_w, weights = w, wt.method = "case", scale.est = "Huber",
                  maxit = 1000, acc = 1e-15), hills_w, FALSE)
weighted_case("hills_huber_case",
              rlm(time ~ dist + climb, data = hills_w, weights = w, wt.method = "case", maxit = 1000, acc = 1e-15),
              hills_w, FALSE)
weighted_case("phones_mm_invvar",
              rlm(calls ~ year, data = phones_w, weights = w, method = "MM", maxit = 1000, acc = 1e-15),
              phones_w, TRUE)
weighted_case("phones_mm_case",
              rlm(calls ~ year, data = phones_w, weights = w, wt.method = "case", method = "MM", maxit = 1000,
                  acc = 1e-15), phones_w, FALSE)
# group deletion: each group of consecutive rows deleted and the model refitted by R's rlm to the fixed point,
# started at the full fit's coefficients (init =): the MAD iteration (and a redescending psi) can have several
# fixed points, and the deleted fit is defined as the one reached from the full fit (from least squares, phones
# without rows 5-8 lands on another, and so do the bisquare fits)
group_case <- function(name, formula, data, size, ...) {
  dir <- file.path(OUT, name)
  dir.create(dir, showWarnings = FALSE)
  full <- rlm(formula, data = data, maxit = 1000, acc = 1e-15, ...)
  g <- (seq_len(nrow(data)) - 1) %/% size + 1
  fits <- lapply(sort(unique(g)), function(k)
    rlm(formula, data = data[g != k, ], init = coef(full), maxit = 1000, acc = 1e-15, ...))
  m <- cbind(t(vapply(fits, coef, coef(full))), scale = vapply(fits, function(f) f$s, 0))
  rownames(m) <- as.character(sort(unique(g)))
  write_mat(m, rownames(m), file.path(dir, "loo_group.csv"))
}
group_case("hills_huber_groups", time ~ dist + climb, hills, 5)
group_case("phones_huber_groups", calls ~ year, phones, 4)
group_case("phones_bisquare_groups", calls ~ year, phones, 4, psi = psi.bisquare)
# leave-one-out with a redescending psi: each row deleted and refitted from the full fit by R's IRLS, with whether
# it converged (on Animals some deleted fits cycle between two roots, in R as in regdiag)
loo_refits <- function(name, formula, data, ...) {
  dir <- file.path(OUT, name)
  dir.create(dir, showWarnings = FALSE)
  full <- rlm(formula, data = data, maxit = 1000, acc = 1e-15, ...)
  fits <- lapply(seq_len(nrow(data)), function(i)
    suppressWarnings(rlm(formula, data = data[-i, ], init = coef(full), maxit = 5000, acc = 1e-15, ...)))
  m <- cbind(t(vapply(fits, coef, coef(full))), scale = vapply(fits, function(f) f$s, 0),
             converged = vapply(fits, function(f) as.numeric(f$converged), 0))
  write_mat(m, rownames(data), file.path(dir, "loo_refits.csv"))
}
loo_refits("animals_hampel_loo", log_brain ~ log_body, animals, psi = psi.hampel)
cat("rlm reference written to", OUT, "\n")
