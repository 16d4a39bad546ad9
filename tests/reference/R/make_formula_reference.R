# Reference values for R's formula language and MASS::glm.nb, read by tests/test_rformula.py.
#
# Each case fits an R data set (not bundled with regdiag) with the formula R users write, and writes under
# tests/reference/formula/<case>/:
#   data.csv      the data as given to R (first column "row": R's row names; NA written as NA)
#   coef.csv      coefficients in R's column order (term, estimate)
#   measures.csv  per used row: fitted, hat, cooks, rstandard, rstudent, dffits, covratio, dfb.<k> (influence.measures)
#   meta.json     formula, family, n, dropped rows (na.action), theta / SE.theta / twologlik for glm.nb
# glm.nb cases are polished: after glm.nb (default control), theta.ml (eps 1e-15) and glm with the fixed theta
# (epsilon 1e-15) alternate until theta moves by less than 1e-11 relative; meta.json also keeps glm.nb's own theta.
#
# Run from the repository root: Rscript tests/reference/R/make_formula_reference.R
suppressPackageStartupMessages({library(MASS); library(carData); library(splines); library(jsonlite)})
source(file.path("tests", "reference", "R", "common.R"))
OUT <- file.path(REF_DIR, "formula")
dir.create(OUT, showWarnings = FALSE)


write_case <- function(name, fit, d, formula, family = NULL, extra = list()) {
  dir <- file.path(OUT, name)
  dir.create(dir, showWarnings = FALSE)
  write_data(d, file.path(dir, "data.csv"))
  co <- coef(fit)
  writeLines(c("\"term\",\"estimate\"", paste(quote_str(names(co)), fmt17(co), sep = ",")),
             file.path(dir, "coef.csv"))
  im <- influence.measures(fit)$infmat
  k <- length(co)
  m <- cbind(fitted = fitted(fit), hat = hatvalues(fit), cooks = cooks.distance(fit),
             rstandard = rstandard(fit), rstudent = rstudent(fit), dffits = im[, "dffit"],
             covratio = im[, "cov.r"], im[, seq_len(k), drop = FALSE])
  colnames(m)[8:(7 + k)] <- paste0("dfb", seq_len(k))
  rows <- rownames(m)
  lines <- c(paste(c("\"row\"", quote_str(colnames(m))), collapse = ","),
             apply(cbind(quote_str(rows), apply(m, 2, fmt17)), 1, paste, collapse = ","))
  writeLines(lines, file.path(dir, "measures.csv"))
  na <- fit$na.action
  meta <- c(list(formula = formula, family = if (is.null(family)) "lm" else family, n = nobs(fit),
                 dropped = if (is.null(na)) character(0) else names(na),
                 r_version = R.version.string), extra)
  writeLines(toJSON(meta, auto_unbox = TRUE, digits = NA, pretty = TRUE), file.path(dir, "meta.json"))
  cat(name, ": n =", nobs(fit), "\n")
}

polish_nb <- function(fit, data) {
  th <- fit$theta
  for (i in 1:50) {
    g <- glm(formula(fit), data = data, family = negative.binomial(th), start = coef(fit),
             control = glm.control(epsilon = 1e-15, maxit = 100))
    w <- g$prior.weights
    th_new <- theta.ml(g$y, fitted(g), sum(w), w, limit = 100, eps = 1e-11 * th)
    fit <- g
    if (abs(th_new - th) <= 1e-11 * th) break
    th <- as.vector(th_new)
  }
  # a negbin object as glm.nb returns (summary.negbin: dispersion 1, used by cooks.distance and rstandard)
  fit$theta <- as.vector(th)
  fit$SE.theta <- attr(th_new, "SE")
  class(fit) <- c("negbin", "glm", "lm")
  list(fit = fit, theta = as.vector(th), se = attr(th_new, "SE"))
}

nb_loglik <- function(th, mu, y, w)
  sum(w * (lgamma(th + y) - lgamma(th) - lgamma(y + 1) + th * log(th) + y * log(mu + (y == 0)) -
           (th + y) * log(th + mu)))

# ---- lm cases -----------------------------------------------------------------------------------------------
f <- "Ozone ~ Solar.R + Wind + I(Temp^2) + factor(Month)"
write_case("lm_airquality_power_factor", lm(as.formula(f), data = airquality), airquality, f)

f <- "log(Ozone) ~ poly(Temp, 2) + Solar.R"      # poly() sees every Temp, then na.omit drops rows
write_case("lm_airquality_poly_na", lm(as.formula(f), data = airquality), airquality, f)

f <- "log(wages) ~ sex + age + I(age^2) + education"
write_case("lm_slid_power", lm(as.formula(f), data = SLID), SLID, f)

prestige <- Prestige
f <- "prestige ~ ns(income, 3) + education + type"   # ns knots from every income; type has NAs
write_case("lm_prestige_ns", lm(as.formula(f), data = prestige), prestige, f)

boston <- Boston
f <- "medv ~ bs(lstat, df = 5) + rm + I(rm^2) + chas + scale(crim)"
write_case("lm_boston_bs_scale", lm(as.formula(f), data = boston), boston, f)

f <- "Sepal.Length ~ ."
write_case("lm_iris_dot", lm(as.formula(f), data = iris), iris, f)

f <- "Petal.Width ~ 0 + Species + Petal.Length"
write_case("lm_iris_no_intercept", lm(as.formula(f), data = iris), iris, f)

tg <- ToothGrowth
f <- "len ~ supp * factor(dose)"
write_case("lm_toothgrowth_interaction", lm(as.formula(f), data = tg), tg, f)

f <- "len ~ dose %in% supp"
write_case("lm_toothgrowth_in", lm(as.formula(f), data = tg), tg, f)

f <- "prestige ~ (income + education + women)^2"
write_case("lm_prestige_power_terms", lm(as.formula(f), data = prestige), prestige, f)

# ---- glm cases ----------------------------------------------------------------------------------------------
ins <- data.frame(Claims = Insurance$Claims, Holders = Insurance$Holders, District = as.integer(Insurance$District),
                  Group = as.integer(Insurance$Group), Age = as.integer(Insurance$Age))
rownames(ins) <- rownames(Insurance)
f <- "Claims ~ factor(District) + Group + Age + offset(log(Holders))"
write_case("glm_insurance_offset", glm(as.formula(f), data = ins, family = poisson,
                                       control = glm.control(epsilon = 1e-15, maxit = 100)), ins, f, "poisson")

for (case in list(list("glmnb_ornstein", Ornstein, "interlocks ~ log(assets) + nation + sector"),
                  list("glmnb_warpbreaks", warpbreaks,
                       "breaks ~ wool * factor(tension, levels = c(\"L\", \"M\", \"H\"))"))) {
  d <- case[[2]]
  f <- case[[3]]
  nb <- glm.nb(as.formula(f), data = d)
  p <- polish_nb(nb, d)
  fit <- p$fit
  write_case(case[[1]], fit, d, f, "negative_binomial",
             list(theta = p$theta, se_theta = p$se,
                  twologlik = 2 * nb_loglik(p$theta, fitted(fit), fit$y, fit$prior.weights),
                  glm_nb_theta = nb$theta, glm_nb_se_theta = nb$SE.theta, glm_nb_twologlik = nb$twologlik,
                  glm_nb_cooks_max_rel_diff = max(abs(cooks.distance(nb) / cooks.distance(fit) - 1))))
}
