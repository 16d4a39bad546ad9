# End-to-end reference values on R data sets that regdiag does not bundle, read by tests/test_r_datasets.py.
#
# Each case is a model as an R user writes it (lm, glm binomial / poisson / Gamma, glm.nb) on a data set from R's
# datasets, MASS or carData, and writes under tests/reference/r_datasets/<case>/:
#   data.csv      the whole data set as R has it (first column "row": R's row names; NA written as NA);
#                 a subset= of the R call is done by the test in pandas
#   coef.csv      coefficients in R's column order (term, estimate)
#   measures.csv  per used row: fitted, hat, cooks, rstandard, rstudent, dffits, covratio, dfb<k> (influence.measures)
#   meta.json     formula, family, link, subset, n, dropped rows, rows flagged by influence.measures' is.inf,
#                 car::outlierTest (rows, rstudent, p, Bonferroni p),
#                 car::vif, theta / SE.theta for glm.nb
# GLMs are fitted with epsilon = 1e-14; glm.nb with epsilon = 1e-14 as well (theta then stable to about 1e-10).
#
# Run from the repository root: Rscript tests/reference/R/make_r_datasets_reference.R
suppressPackageStartupMessages({library(MASS); library(carData); library(car); library(splines); library(jsonlite)})
source(file.path("tests", "reference", "R", "common.R"))
OUT <- file.path(REF_DIR, "r_datasets")
dir.create(OUT, showWarnings = FALSE)
CTRL <- glm.control(epsilon = 1e-14, maxit = 200)


write_case <- function(name, fit, d, formula, family = "lm", link = NULL, subset = NULL, extra = list()) {
  dir <- file.path(OUT, name)
  dir.create(dir, showWarnings = FALSE)
  write_data(d, file.path(dir, "data.csv"))
  co <- coef(fit)
  writeLines(c("\"term\",\"estimate\"", paste(quote_str(names(co)), fmt17(co), sep = ",")),
             file.path(dir, "coef.csv"))
  inf <- influence.measures(fit)
  im <- inf$infmat
  k <- sum(!is.na(co))
  m <- cbind(fitted = fitted(fit), hat = hatvalues(fit), cooks = cooks.distance(fit),
             rstandard = rstandard(fit), rstudent = rstudent(fit), dffits = im[, "dffit"],
             covratio = im[, "cov.r"], im[, seq_len(k), drop = FALSE])
  colnames(m)[8:(7 + k)] <- paste0("dfb", seq_len(k))
  lines <- c(paste(c("\"row\"", quote_str(colnames(m))), collapse = ","),
             apply(cbind(quote_str(rownames(m)), apply(m, 2, fmt17)), 1, paste, collapse = ","))
  writeLines(lines, file.path(dir, "measures.csv"))
  ot <- outlierTest(fit, cutoff = Inf, n.max = 5)
  v <- tryCatch(vif(fit), error = function(e) NULL)
  vif_out <- if (is.null(v)) NULL else if (is.matrix(v)) list(terms = rownames(v), gvif = unname(v[, 1]), df = unname(v[, 2]))
             else list(terms = names(v), gvif = unname(v), df = rep(1, length(v)))
  na <- fit$na.action
  meta <- c(list(formula = formula, family = family, link = link, subset = subset, n = nobs(fit),
                 dropped = if (is.null(na)) character(0) else names(na),
                 flagged = rownames(inf$is.inf)[apply(inf$is.inf, 1, any)],
                 outlier_test = list(rows = names(ot$rstudent), rstudent = unname(ot$rstudent),
                                     p = unname(ot$p), bonferroni = unname(ot$bonf.p)),
                 vif = vif_out, r_version = R.version.string), extra)
  writeLines(toJSON(meta, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"), file.path(dir, "meta.json"))
  cat(name, ": n =", nobs(fit), "\n")
}

# ---- lm ---------------------------------------------------------------------------------------------------------
f <- "Fertility ~ ."                                            # datasets::swiss, dotted Infant.Mortality
write_case("lm_swiss_dot", lm(as.formula(f), data = swiss), swiss, f)

f <- "Fertility ~ Agriculture + I(Education^2) + log(Infant.Mortality) * Catholic"
write_case("lm_swiss_power_interaction", lm(as.formula(f), data = swiss), swiss, f)

cars <- Cars93[, c("MPG.city", "Horsepower", "Weight", "Type", "Rear.seat.room", "Origin", "Man.trans.avail")]
f <- "log(MPG.city) ~ Type + poly(Horsepower, 2) + log(Weight) * Origin + Rear.seat.room + Man.trans.avail"
write_case("lm_cars93_poly_na", lm(as.formula(f), data = cars), cars, f)         # Rear.seat.room has NA

f <- "MPG.city ~ ."
write_case("lm_cars93_dot_na", lm(as.formula(f), data = cars), cars, f)

f <- "Gas ~ Insul * ns(Temp, df = 3)"                            # MASS::whiteside
write_case("lm_whiteside_ns", lm(as.formula(f), data = whiteside), whiteside, f,   # Insul: Before, After
           extra = list(same_parametrization = FALSE))

f <- "log(Volume) ~ bs(Girth, df = 4) + log(Height)"            # datasets::trees
write_case("lm_trees_bs", lm(as.formula(f), data = trees), trees, f)

f <- "weight ~ repwt + sex"                                     # carData::Davis, NA in repwt, row 12 an outlier
write_case("lm_davis_na", lm(as.formula(f), data = Davis), Davis, f)

co2 <- as.data.frame(CO2)[, c("Plant", "Type", "Treatment", "conc", "uptake")]   # Type's levels: Quebec first
f <- "uptake ~ Type * Treatment + log(conc)"
write_case("lm_co2_levels", lm(as.formula(f), data = co2), co2, f, extra = list(same_parametrization = FALSE))

# ---- glm --------------------------------------------------------------------------------------------------------
f <- "I(partic != \"not.work\") ~ hincome + children + region"  # carData::Womenlf
write_case("glm_womenlf_logit", glm(as.formula(f), family = binomial, data = Womenlf, control = CTRL),
           Womenlf, f, family = "binomial", link = "logit")

es <- as.data.frame(lapply(esoph, function(v) if (is.factor(v)) as.character(v) else v))
f <- "cbind(ncases, ncontrols) ~ agegp + tobgp + alcgp"          # datasets::esoph (ordered factors in R)
write_case("glm_esoph_cbind", glm(as.formula(f), family = binomial, data = esoph, control = CTRL),
           esoph, f, family = "binomial", link = "logit", extra = list(same_parametrization = FALSE))

f <- "incidents ~ type + factor(year) + factor(period) + offset(log(service))"   # MASS::ships
write_case("glm_ships_offset", glm(as.formula(f), family = poisson, data = ships, subset = service > 0,
                                   control = CTRL), ships, f, family = "poisson", link = "log",
           subset = "service > 0")

f <- "Volume ~ log(Girth) + log(Height)"
write_case("glm_trees_gamma_log", glm(as.formula(f), family = Gamma(link = "log"), data = trees, control = CTRL),
           trees, f, family = "gamma", link = "log")

f <- "y ~ lbase * trt + lage + V4"                              # MASS::epil
nb <- glm.nb(as.formula(f), data = epil, control = CTRL)
write_case("glmnb_epil", nb, epil, f, family = "negative_binomial", link = "log",
           extra = list(theta = nb$theta, se_theta = nb$SE.theta))
