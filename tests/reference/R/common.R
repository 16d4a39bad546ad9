# Helpers shared by make_ols_reference.R, make_glm_reference.R and make_glm_extra_reference.R (sourced,
# not run on its own).
#
# Output conventions (see tests/reference/README.md):
#   - every CSV has a header; its first column holds the row labels (observation labels, or term
#     names for coefficients, or quantity names for scalars) as quoted strings;
#   - numbers are written with sprintf("%.17g"), which reads back as the identical double;
#     NA is written NA, NaN as NaN, infinities as Inf / -Inf; logicals as TRUE / FALSE / NA;
#   - input data written by these scripts use the shortest of %.15g, %.16g, %.17g that reads
#     back identically, so that they stay readable.

suppressPackageStartupMessages(library(jsonlite))

REF_DIR <- file.path("tests", "reference")
if (!dir.exists(REF_DIR) || !file.exists("setup.cfg"))
  stop("run this script from the repository root: Rscript tests/reference/R/<script>.R")

# ---- number formatting ----------------------------------------------------------------

fmt_special <- function(x, s) {
  s[is.na(x)] <- "NA"
  s[is.nan(x)] <- "NaN"
  s[is.infinite(x) & x > 0] <- "Inf"
  s[is.infinite(x) & x < 0] <- "-Inf"
  s
}

fmt17 <- function(x) {
  x <- as.numeric(x)
  fmt_special(x, sprintf("%.17g", x))
}

fmt_short <- function(x) {
  x <- as.numeric(x)
  s <- sprintf("%.15g", x)
  for (d in 16:17) {
    bad <- is.finite(x) & (as.numeric(s) != x)
    if (!any(bad)) break
    s[bad] <- sprintf(paste0("%.", d, "g"), x[bad])
  }
  fmt_special(x, s)
}

fmt_logical <- function(x) ifelse(is.na(x), "NA", ifelse(x, "TRUE", "FALSE"))

quote_str <- function(x) {
  x <- as.character(x)
  out <- paste0("\"", gsub("\"", "\"\"", x, fixed = TRUE), "\"")
  out[is.na(x)] <- "NA"
  out
}

# ---- writers ----------------------------------------------------------------------------

rel_path <- function(path) sub("^\\./", "", path)

# Write a matrix (numeric or logical) with its row names as the first column.
write_matrix <- function(m, path, label_name = "row") {
  m <- as.matrix(m)
  stopifnot(!is.null(rownames(m)), !anyDuplicated(rownames(m)), !is.null(colnames(m)))
  fmt <- if (is.logical(m)) fmt_logical else fmt17
  cols <- lapply(seq_len(ncol(m)), function(j) fmt(m[, j]))
  lines <- c(paste(c(label_name, colnames(m)), collapse = ","),
             do.call(paste, c(list(quote_str(rownames(m))), cols, sep = ",")))
  dir.create(dirname(path), recursive = TRUE, showWarnings = FALSE)
  writeLines(lines, path)
  invisible(rel_path(path))
}

# Write a named vector as a two-column CSV: label, <value_name>.
write_vector <- function(v, path, value_name, label_name = "row") {
  stopifnot(!is.null(names(v)))
  m <- matrix(v, ncol = 1, dimnames = list(names(v), value_name))
  if (is.logical(v)) storage.mode(m) <- "logical"
  write_matrix(m, path, label_name)
}

# Write input data (data frame with row names = labels) exactly; check the round trip.
write_data_exact <- function(df, path, label_name) {
  cols <- lapply(df, function(v) {
    if (is.factor(v) || is.character(v)) quote_str(v)
    else if (is.logical(v)) fmt_logical(v)
    else fmt_short(v)
  })
  lines <- c(paste(c(label_name, names(df)), collapse = ","),
             do.call(paste, c(list(quote_str(row.names(df))), cols, sep = ",")))
  dir.create(dirname(path), recursive = TRUE, showWarnings = FALSE)
  writeLines(lines, path)
  back <- read_case_data(path, label_name)
  stopifnot(identical(row.names(back), row.names(df)), identical(names(back), names(df)))
  for (nm in names(df)) {
    v <- df[[nm]]
    if (is.numeric(v)) stopifnot(identical(as.numeric(back[[nm]]), as.numeric(v)))
    else stopifnot(identical(as.character(back[[nm]]), as.character(v)))
  }
  invisible(rel_path(path))
}

# Read a case's input CSV as the tests will: row labels from index_col (or 1..n when NULL).
read_case_data <- function(path, index_col = NULL) {
  cc <- NA
  if (!is.null(index_col)) cc <- setNames("character", index_col)
  d <- read.csv(path, check.names = FALSE, stringsAsFactors = FALSE, colClasses = cc)
  if (!is.null(index_col)) {
    stopifnot(!anyDuplicated(d[[index_col]]))
    row.names(d) <- d[[index_col]]
    d[[index_col]] <- NULL
  }
  d
}

# ---- JSON -------------------------------------------------------------------------------

# A number for the manifest. Only numbers with an exact representation of at most 15
# significant digits go into the manifest (anything else goes to a CSV with 17 digits), so
# that re-serialising the manifest (update_manifest, digits = NA) never rounds them.
json_num <- function(x) {
  if (is.null(x) || length(x) == 0) return(NULL)
  stopifnot(length(x) == 1, is.finite(x), as.numeric(sprintf("%.15g", x)) == x)
  x
}

# Replace this script's cases (by kind) in manifest.json, keeping the others; lm cases first.
update_manifest <- function(entries, kind) {
  path <- file.path(REF_DIR, "manifest.json")
  old <- list()
  if (file.exists(path)) {
    txt <- readLines(path, warn = FALSE)
    old <- fromJSON(paste(txt, collapse = "\n"), simplifyVector = FALSE)$cases
  }
  # The other script's entries are re-serialised from the parsed JSON: exact, since every
  # number in the manifest has at most 15 significant digits (see json_num).
  keep <- Filter(function(e) !identical(e$kind, kind), old)
  all <- c(keep, entries)
  kinds <- vapply(all, function(e) e$kind, "")
  all <- all[order(match(kinds, c("lm", "glm")), seq_along(all))]
  doc <- list(
    format = "regdiag R reference values, manifest version 1",
    generated_by = c("tests/reference/R/make_ols_reference.R",
                     "tests/reference/R/make_glm_reference.R"),
    r_version = R.version.string,
    packages = lapply(c(stats = "stats", MASS = "MASS", car = "car", carData = "carData"),
                      function(p) packageDescription(p)$Version),
    cases = all
  )
  txt <- toJSON(doc, auto_unbox = TRUE, pretty = TRUE, null = "null", na = "null",
                digits = NA)
  writeLines(txt, path)
  invisible(path)
}

# Capture warnings while evaluating expr; returns list(value, warnings).
with_warnings <- function(expr) {
  w <- character()
  val <- withCallingHandlers(expr, warning = function(cond) {
    w <<- c(w, conditionMessage(cond))
    invokeRestart("muffleWarning")
  })
  list(value = val, warnings = unique(w))
}

# car::outlierTest(fit, cutoff = Inf, n.max = Inf) as a matrix (rows in car's order).
outlier_test_matrix <- function(fit) {
  ot <- tryCatch(car::outlierTest(fit, cutoff = Inf, n.max = Inf), error = function(e) e)
  if (inherits(ot, "error")) return(ot)
  cbind(rstudent = ot$rstudent, unadjusted_p = ot$p, bonferroni_p = ot$bonf.p)
}

# Residuals of the given types and R's influence quantities of a glm fit, written under dir; returns
# the written paths as a list named by quantity: residuals_<type> for each of residual_types, then
# hatvalues, loo_sigma (infl$sigma), rstandard_deviance, rstandard_pearson, rstudent, cooks_distance,
# dfbeta, dfbetas (only when with_dfbetas), infmat, is_inf.
write_glm_influence <- function(fit, dir, residual_types, with_dfbetas, infl = influence(fit)) {
  f <- list()
  for (ty in residual_types)
    f[[paste0("residuals_", ty)]] <- write_vector(residuals(fit, type = ty),
                                                 file.path(dir, paste0("residuals_", ty, ".csv")),
                                                 paste0("residuals_", ty))
  f$hatvalues <- write_vector(hatvalues(fit), file.path(dir, "hatvalues.csv"), "hatvalues")
  f$loo_sigma <- write_vector(infl$sigma, file.path(dir, "loo_sigma.csv"), "loo_sigma")
  f$rstandard_deviance <- write_vector(rstandard(fit, type = "deviance"),
                                       file.path(dir, "rstandard_deviance.csv"), "rstandard_deviance")
  f$rstandard_pearson <- write_vector(rstandard(fit, type = "pearson"),
                                      file.path(dir, "rstandard_pearson.csv"), "rstandard_pearson")
  f$rstudent <- write_vector(rstudent(fit), file.path(dir, "rstudent.csv"), "rstudent")
  f$cooks_distance <- write_vector(cooks.distance(fit), file.path(dir, "cooks_distance.csv"), "cooks_distance")
  f$dfbeta <- write_matrix(dfbeta(fit), file.path(dir, "dfbeta.csv"))
  if (with_dfbetas) f$dfbetas <- write_matrix(dfbetas(fit), file.path(dir, "dfbetas.csv"))
  im <- influence.measures(fit)
  f$infmat <- write_matrix(im$infmat, file.path(dir, "infmat.csv"))
  f$is_inf <- write_matrix(im$is.inf, file.path(dir, "is_inf.csv"))
  f
}

# glm.fit stops when the relative change in deviance is below epsilon. Near the optimum the
# deviance changes quadratically in the coefficients, so for non-canonical links (linear
# convergence of Fisher scoring) the coefficients can still be ~1e-7 (relative) away from the
# maximum-likelihood estimate even with epsilon = 1e-15. "Polish" the fit: refit with
# start = the previous coefficients (0 for aliased ones) until they change by less than
# POLISH_TOL (relative), at most POLISH_MAX refits. All reference values are computed from the
# polished fit. glm_nb: a MASS::glm.nb call, restarted from the fit's theta too.
POLISH_TOL <- 1e-13
POLISH_MAX <- 50L

polish <- function(call, fit, data, glm_nb = FALSE) {
  b <- coef(fit)
  k <- 0L
  repeat {
    k <- k + 1L
    ci <- call
    ci$data <- data
    ci$start <- unname(ifelse(is.na(b), 0, b))
    if (glm_nb) ci$init.theta <- fit$theta
    fit <- suppressWarnings(eval(ci))
    change <- max(abs(coef(fit) - b) / pmax(abs(b), .Machine$double.xmin), na.rm = TRUE)
    b <- coef(fit)
    if (change < POLISH_TOL || k >= POLISH_MAX) break
  }
  list(fit = fit, refits = k, last_change = change)
}

# Write a data frame as given to R (factors as their labels), its row names in a first column "row"; numbers with the
# fewest digits that read back identically, NA as NA. Used by the formula and R data set scripts.
write_data <- function(d, path) {
  d <- as.data.frame(lapply(d, function(v) if (is.factor(v)) as.character(v) else v), check.names = FALSE,
                     row.names = rownames(d))
  cols <- lapply(d, function(v) if (is.numeric(v)) fmt_short(v) else quote_str(v))
  lines <- c(paste(c("\"row\"", quote_str(names(d))), collapse = ","),
             do.call(paste, c(list(quote_str(rownames(d))), cols, sep = ",")))
  writeLines(lines, path)
}
