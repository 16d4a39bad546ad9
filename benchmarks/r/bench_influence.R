# Timing of R's influence diagnostics, for comparison with regdiag.
#
# Run from the repository root:   Rscript benchmarks/r/bench_influence.R
#
# Fits, with a fixed seed:
#   - OLS, n = 4000 and n = 10^6, p = 20 (intercept + 19 N(0,1) columns), y = X beta + N(0,1) noise:
#     times lm.fit(X, y), lm(y ~ ., data) and influence.measures(fit) separately;
#   - logistic regression, n = 10^6, p = 20: times glm(y ~ ., family = binomial, data) and
#     influence.measures(fit) separately.
# Times are system.time()[["elapsed"]] in seconds; for n = 4000 the median of several repetitions
# is reported (21 runs; one run is a few milliseconds), for n = 10^6 the median of 3 runs.
# Prints the results and writes them to benchmarks/r/results_r.json.
# Needs about 4 GB of memory and a few minutes (single-threaded reference BLAS).

suppressPackageStartupMessages(library(jsonlite))

out_file <- file.path("benchmarks", "r", "results_r.json")
if (!dir.exists(dirname(out_file))) stop("run this script from the repository root")

seed <- 20240517L
set.seed(seed)

elapsed <- function(expr_fn, reps = 1L) {
  t <- numeric(reps)
  for (r in seq_len(reps)) {
    invisible(gc())
    t[r] <- system.time(expr_fn())[["elapsed"]]
  }
  list(seconds = stats::median(t), reps = reps, all = t)
}

make_data <- function(n, p, logistic = FALSE) {
  X <- cbind(1, matrix(rnorm(n * (p - 1)), n, p - 1))
  colnames(X) <- c("(Intercept)", paste0("x", seq_len(p - 1)))
  if (logistic) {
    beta <- c(-0.5, rep(c(0.4, -0.3, 0.2, -0.1), length.out = p - 1))
    y <- rbinom(n, 1, plogis(drop(X %*% beta)))
  } else {
    beta <- c(1, seq(-1, 1, length.out = p - 1))
    y <- drop(X %*% beta) + rnorm(n)
  }
  d <- data.frame(y = y, X[, -1, drop = FALSE])
  list(X = X, y = y, d = d)
}

results <- list()
add <- function(model, n, p, step, tm) {
  cat(sprintf("%-9s n = %-8d p = %-3d %-28s %10.4f s  (reps = %d)\n",
              model, n, p, step, tm$seconds, tm$reps))
  results[[length(results) + 1L]] <<- list(model = model, n = n, p = p, step = step,
                                          seconds = tm$seconds, reps = tm$reps)
}

p <- 20L

## OLS -------------------------------------------------------------------------------
for (n in c(4000L, 1000000L)) {
  reps <- if (n <= 10000L) 21L else 3L
  dat <- make_data(n, p)
  add("ols", n, p, "lm.fit", elapsed(function() lm.fit(dat$X, dat$y), reps))
  fit <- NULL
  add("ols", n, p, "lm", elapsed(function() fit <<- lm(y ~ ., data = dat$d), reps))
  im <- NULL
  add("ols", n, p, "influence.measures", elapsed(function() im <<- influence.measures(fit), reps))
  stopifnot(nrow(im$infmat) == n, ncol(im$infmat) == p + 4L)
  rm(dat, fit, im); invisible(gc())
}

## logistic --------------------------------------------------------------------------
n <- 1000000L
dat <- make_data(n, p, logistic = TRUE)
gfit <- NULL
add("logistic", n, p, "glm", elapsed(function() gfit <<- glm(y ~ ., family = binomial, data = dat$d), 3L))
cat(sprintf("  glm iterations: %d, converged: %s\n", gfit$iter, gfit$converged))
im <- NULL
add("logistic", n, p, "influence.measures", elapsed(function() im <<- influence.measures(gfit), 3L))
stopifnot(nrow(im$infmat) == n)
glm_iter <- gfit$iter
rm(dat, gfit, im); invisible(gc())

cpu <- tryCatch({
  l <- grep("^model name", readLines("/proc/cpuinfo"), value = TRUE)[1]
  trimws(sub("^[^:]*:", "", l))
}, error = function(e) NA_character_)

info <- list(
  r_version = R.version.string,
  platform = R.version$platform,
  blas = unname(extSoftVersion()["BLAS"]),
  lapack = La_library(),
  cpu = cpu,
  cores = parallel::detectCores(),
  seed = seed,
  timing = "system.time()[['elapsed']], seconds; median over reps",
  glm_control = "glm.control() defaults (epsilon = 1e-8, maxit = 25)",
  logistic_glm_iterations = glm_iter,
  date = format(Sys.time(), "%Y-%m-%d", tz = "UTC"),
  results = results
)
writeLines(toJSON(info, auto_unbox = TRUE, pretty = TRUE, digits = I(6)), out_file)
cat("wrote", out_file, "\n")
