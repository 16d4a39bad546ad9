# Export the classic regression data sets bundled in datasets/ from R.
#
# Run from the repository root:   Rscript datasets/R/export_datasets.R
#
# Needs R (datasets, MASS) and the car/carData packages (Duncan). Every number is
# written with the fewest significant digits (15, 16 or 17) that read back as the
# identical double in R, so the CSV files hold exactly R's values; integers are
# written as integers. Dots in R's column names are replaced by underscores so that
# every column name is a valid Python identifier. The script checks that each file
# reads back identical to the data frame it was written from.

suppressPackageStartupMessages({
  library(MASS)
  library(carData)
})

out_dir <- "datasets"
if (!file.exists(file.path(out_dir, "catalog.json")))
  stop("run this script from the repository root")

fmt_num <- function(x) {
  s <- sprintf("%.15g", x)
  for (d in 16:17) {
    bad <- is.finite(x) & (as.numeric(s) != x)
    if (!any(bad)) break
    s[bad] <- sprintf(paste0("%.", d, "g"), x[bad])
  }
  s[is.na(x)] <- "NA"
  s[is.nan(x)] <- "NaN"
  s[is.infinite(x) & x > 0] <- "Inf"
  s[is.infinite(x) & x < 0] <- "-Inf"
  s
}

quote_str <- function(x) {
  x <- as.character(x)
  out <- paste0("\"", gsub("\"", "\"\"", x, fixed = TRUE), "\"")
  out[is.na(x)] <- "NA"
  out
}

# df: data frame; label: name of a first column holding row.names(df), or NULL
write_csv_exact <- function(df, file, label = NULL) {
  cols <- lapply(df, function(v) {
    if (is.factor(v) || is.character(v)) quote_str(v)
    else if (is.logical(v)) ifelse(is.na(v), "NA", ifelse(v, "TRUE", "FALSE"))
    else fmt_num(as.numeric(v))
  })
  header <- names(df)
  if (!is.null(label)) {
    cols <- c(list(quote_str(row.names(df))), cols)
    header <- c(label, header)
  }
  lines <- c(paste(header, collapse = ","), do.call(paste, c(cols, sep = ",")))
  writeLines(lines, file)
  # round-trip check
  cc <- NA
  if (!is.null(label)) cc <- setNames("character", label)
  back <- read.csv(file, check.names = FALSE, stringsAsFactors = FALSE, colClasses = cc)
  if (!is.null(label)) {
    stopifnot(identical(back[[label]], row.names(df)), !anyDuplicated(back[[label]]))
    back[[label]] <- NULL
  }
  stopifnot(identical(names(back), names(df)))
  for (nm in names(df)) {
    v <- df[[nm]]
    if (is.factor(v) || is.character(v)) stopifnot(identical(back[[nm]], as.character(v)))
    else stopifnot(identical(as.numeric(back[[nm]]), as.numeric(v)))
  }
  invisible(file)
}

dot2us <- function(df) {
  names(df) <- gsub("_+$", "", gsub(".", "_", names(df), fixed = TRUE))
  df
}

# --- linear models --------------------------------------------------------------
write_csv_exact(LifeCycleSavings, file.path(out_dir, "LifeCycleSavings.csv"), label = "country")

# Air.Flow, Water.Temp, Acid.Conc., stack.loss -> Air_Flow, Water_Temp, Acid_Conc, stack_loss
write_csv_exact(dot2us(stackloss), file.path(out_dir, "stackloss.csv"))

write_csv_exact(carData::Duncan, file.path(out_dir, "Duncan.csv"), label = "occupation")

write_csv_exact(anscombe, file.path(out_dir, "anscombe.csv"))

write_csv_exact(cars, file.path(out_dir, "cars.csv"))

write_csv_exact(mtcars, file.path(out_dir, "mtcars.csv"), label = "model")

# --- generalized linear models ----------------------------------------------------
write_csv_exact(MASS::birthwt, file.path(out_dir, "birthwt.csv"), label = "id")

# Tobacco budworm: Venables & Ripley (2002), MASS 4th ed., section 7.2, as typed in
# the MASS package's scripts/ch07.R. 20 moths per batch.
budworm <- data.frame(
  ldose = rep(0:5, 2),
  sex = rep(c("M", "F"), c(6, 6)),
  numdead = c(1, 4, 9, 13, 18, 20, 0, 2, 6, 10, 12, 16),
  total = 20
)
budworm$numalive <- budworm$total - budworm$numdead
budworm$prop <- budworm$numdead / budworm$total
write_csv_exact(budworm, file.path(out_dir, "budworm.csv"))

write_csv_exact(InsectSprays, file.path(out_dir, "InsectSprays.csv"))

# Blood clotting times (McCullagh & Nelder 1989, pp. 300-302), as in R's ?glm example.
clotting <- data.frame(
  u = c(5, 10, 15, 20, 30, 40, 60, 80, 100),
  lot1 = c(118, 58, 42, 35, 27, 25, 21, 19, 18),
  lot2 = c(69, 35, 26, 21, 18, 16, 13, 12, 12)
)
write_csv_exact(clotting, file.path(out_dir, "clotting.csv"))

write_csv_exact(MASS::quine, file.path(out_dir, "quine.csv"))

cat("wrote data sets to", out_dir, "\n")
