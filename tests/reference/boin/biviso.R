# Fixed cases for Iso 0.0-21 biviso (the isotonic fit of BOIN's combination designs), seed 11.
# Run: R_LIBS=/tmp/rlib Rscript biviso.R  (writes biviso.json: n, y, and the fit to 17 digits, column-major)
suppressMessages(library(Iso)); library(jsonlite)
set.seed(11)
cases <- list()
for (t in 1:300) {
  J <- sample(2:4, 1); K <- sample(J:5, 1)
  n <- matrix(sample(c(0,0,1,2,3,3,3,6,6,9,12), J*K, TRUE), J, K)
  y <- matrix(0, J, K); for (i in seq_along(n)) y[i] <- rbinom(1, n[i], 0.3)
  fit <- biviso((y + 0.05)/(n + 0.1), n + 0.1)
  cases[[t]] <- list(n = n, y = y, fit = sprintf("%.17g", fit))
}
writeLines(toJSON(cases, digits = NA), "biviso.json")
