# Reference values behind the teaching plots: car::vif (VIF and generalized VIF), the partial residuals of
# car::crPlots (residuals(fit, type = "partial")) and the four series of car::infIndexPlot (Cook's distance,
# studentized residuals, Bonferroni p-values as infIndexPlot computes them, hat values).
#
# Run from the repository root:  Rscript tests/reference/R/make_teaching_reference.R
# Writes tests/reference/teaching/<case>/{vif,partial_residuals,index_values}.csv (conventions: README.md), and
# data.csv for the data sets regdiag does not bundle.

source(file.path("tests", "reference", "R", "common.R"))
suppressPackageStartupMessages(library(car))

OUT <- file.path(REF_DIR, "teaching")
# IRLS to rounding, so that the reference is the estimate itself and not R's default stopping point
TIGHT <- glm.control(epsilon = 1e-15, maxit = 200)

read_bundled <- function(name, index_col) {
  d <- read.csv(file.path("datasets", paste0(name, ".csv")), stringsAsFactors = TRUE)
  if (!is.null(index_col)) {
    rownames(d) <- as.character(d[[index_col]])
    d[[index_col]] <- NULL
  }
  d
}

write_case <- function(case, fit) {
  dir <- file.path(OUT, case)
  dir.create(dir, recursive = TRUE, showWarnings = FALSE)
  v <- vif(fit)
  if (is.null(dim(v))) {
    v <- cbind(GVIF = v, Df = 1, "GVIF^(1/(2*Df))" = sqrt(v))
  }
  write_matrix(v, file.path(dir, "vif.csv"), label_name = "term")
  write_matrix(residuals(fit, type = "partial"), file.path(dir, "partial_residuals.csv"))
  n <- nrow(model.matrix(fit))
  bonf <- pmin(outlierTest(fit, order = FALSE, n.max = n, cutoff = n)$bonf.p, 1)
  idx <- cbind(cooks_distance = cooks.distance(fit), student_resid = rstudent(fit), bonferroni_p = bonf,
               leverage = hatvalues(fit))
  write_matrix(idx, file.path(dir, "index_values.csv"))
}

lcs <- read_bundled("LifeCycleSavings", "country")
write_case("lm_lifecyclesavings", lm(sr ~ pop15 + pop75 + dpi + ddpi, data = lcs))

dun <- read_bundled("Duncan", "occupation")
write_case("lm_duncan_factor", lm(prestige ~ income + education + type, data = dun))

quine <- read_bundled("quine", NULL)
write_case("glm_quine_poisson", glm(Days ~ Eth + Sex + Age + Lrn, family = poisson, data = quine, control = TIGHT))

bw <- read_bundled("birthwt", "id")
write_case("glm_birthwt_binomial", glm(low ~ age + lwt + smoke + ptl + ht + ui, family = binomial, data = bw, control = TIGHT))

# formulas with an offset (the offset is not a term: car groups a factor's columns into one generalized VIF);
# the data are written beside the numbers (data.csv: R's row names first)
suppressPackageStartupMessages(library(MASS))
ano <- anorexia
write_case("lm_anorexia_offset", lm(Postwt ~ Prewt + Treat + offset(Prewt), data = ano))
write_data(ano, file.path(OUT, "lm_anorexia_offset", "data.csv"))

# a negative binomial with theta estimated: car's outlierTest (and so infIndexPlot) uses t(df - 1) for class negbin
sh <- subset(ships, service > 0)
write_case("glmnb_ships_offset", glm.nb(incidents ~ type + factor(period) + offset(log(service)), data = sh,
                                        control = glm.control(epsilon = 1e-14, maxit = 200)))
write_data(sh, file.path(OUT, "glmnb_ships_offset", "data.csv"))

writeLines(c(
  "car::vif, residuals(type = \"partial\") (car::crPlots) and car::infIndexPlot's series, written by",
  "tests/reference/R/make_teaching_reference.R with:",
  R.version.string,
  paste("car", as.character(packageVersion("car")))
), file.path(OUT, "VERSIONS.txt"))
