# Fixed data cases for R BOIN 2.7.2's select.mtd.comb (both mtd.contour settings).
# Run: R_LIBS=/tmp/rlib Rscript select_mtd_comb.R  (writes select_mtd_comb.json; seed 2026)
suppressMessages(library(BOIN)); library(jsonlite)
set.seed(2026)
cases <- list()
for (t in 1:200) {
  J <- sample(2:4, 1); K <- sample(J:5, 1); target <- sample(c(0.2, 0.25, 0.3), 1)
  n <- matrix(sample(c(0, 0, 3, 3, 3, 6, 6, 9, 12), J * K, TRUE), J, K)
  y <- matrix(0, J, K); for (i in seq_along(n)) y[i] <- rbinom(1, n[i], runif(1, 0, 0.6))
  res <- list()
  for (contour in c(FALSE, TRUE)) {
    # R stops with "object 'phat.out.noCI' not found" when the lowest pair is eliminated:
    # recorded as "error" (bayesdose: no MTD)
    s <- tryCatch({invisible(capture.output(s <- select.mtd.comb(target, n, y, mtd.contour = contour))); s},
                  error = function(e) NULL)
    mtd <- if (is.null(s)) "error" else s$MTD
    res[[if (contour) "contour" else "single"]] <-
      if (identical(mtd, "error")) "error" else if (length(mtd) == 1 && mtd == 99) list() else lapply(seq_len(nrow(mtd)), function(r) as.integer(mtd[r, ]))
  }
  cases[[t]] <- list(target = target, npts = n, ntox = y, mtd = res$single, contour = res$contour)
}
writeLines(toJSON(list(version = as.character(packageVersion("BOIN")), r = R.version.string,
                       seed = 2026, call = "select.mtd.comb(target, npts, ntox, mtd.contour = FALSE / TRUE)",
                       cases = cases), digits = NA, auto_unbox = TRUE), "select_mtd_comb.json")
