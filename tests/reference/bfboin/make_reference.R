# BF-BOIN reference numbers for bayesdose's backfill simulator (tests/test_backfill_reference.py).
# Run: R_LIBS=/tmp/rlib_bf:/tmp/rlib Rscript tests/reference/bfboin/make_reference.R
# Zhao, Yuan, Korn & Freidlin (2024), Clin Cancer Res 30:673, Table 3 scenarios (as bfboin's vignette
# "Compare to publication"); settings as published: target 0.25, 10 cohorts of 3, n.earlystop 9,
# cutoff.eli 0.95, n.cap 12, Poisson accrual 3 a month, one-month DLT window.
# Per scenario, twice: with the published response rates (BF-BOIN) and with response rates 0 (no
# response ever, so no backfill: BOIN in the same time model). Each run is get.oc.bf's own loop
# (set.seed(seed); purrr::map_df(1:ntrial, sim.one.trial, ...)), so the means equal get.oc.bf's;
# the per-trial values give the standard deviations as well.
library(bfboin)
ntrial <- 1000
seed <- 2024
dlt <- list(c(0.25, 0.41, 0.45, 0.49, 0.53), c(0.12, 0.25, 0.42, 0.49, 0.55),
            c(0.04, 0.12, 0.25, 0.43, 0.63), c(0.02, 0.06, 0.1, 0.25, 0.4),
            c(0.02, 0.05, 0.08, 0.11, 0.25), c(0.12, 0.25, 0.42, 0.49, 0.55),
            c(0.04, 0.12, 0.25, 0.43, 0.63), c(0.02, 0.06, 0.1, 0.25, 0.4),
            c(0.02, 0.05, 0.08, 0.11, 0.25), c(0.04, 0.12, 0.25, 0.43, 0.63),
            c(0.02, 0.06, 0.1, 0.25, 0.4), c(0.02, 0.05, 0.08, 0.11, 0.25))
response <- list(c(0.3, 0.4, 0.45, 0.5, 0.55), c(0.2, 0.3, 0.4, 0.5, 0.6),
                 c(0.1, 0.2, 0.3, 0.45, 0.58), c(0.05, 0.1, 0.15, 0.3, 0.45),
                 c(0.05, 0.1, 0.15, 0.2, 0.3), c(0.3, 0.35, 0.36, 0.36, 0.36),
                 c(0.15, 0.3, 0.35, 0.36, 0.36), c(0.10, 0.2, 0.3, 0.35, 0.35),
                 c(0.10, 0.15, 0.2, 0.3, 0.35), c(0.3, 0.32, 0.35, 0.36, 0.36),
                 c(0.1, 0.3, 0.32, 0.35, 0.36), c(0.1, 0.15, 0.3, 0.32, 0.35))
run <- function(p, r) {
  set.seed(seed)
  res <- purrr::map_df(1:ntrial, bfboin::sim.one.trial, target = 0.25, p.true = p, ncohort = 10,
                       cohortsize = 3, n.earlystop = 9, startdose = 1, titration = FALSE,
                       p.saf = 0.6 * 0.25, p.tox = 1.4 * 0.25, cutoff.eli = 0.95,
                       extrasafe = FALSE, offset = 0.05, boundMTD = FALSE, n.cap = 12,
                       end.backfill = TRUE, n.per.month = 3, dlt.window = 1,
                       p.response.true = r, three.plus.three = FALSE, accrual = "poisson",
                       backfill.assign = "highest")
  per <- split(res, res$trial.id)
  sel <- sapply(per, function(x) x$dselect[1])
  total <- sapply(per, function(x) sum(x$n))
  months <- sapply(per, function(x) x$max.t[1])
  list(selpercent = sapply(1:5, function(i) 100 * mean(sel == i)),
       percentstop = 100 * mean(sel == 99),
       npatients = unname(sapply(1:5, function(i) mean(res$n[res$d == i]))),
       ntox = unname(sapply(1:5, function(i) mean(res$y[res$d == i]))),
       totaln = mean(total), totaln_sd = sd(total),
       duration = mean(months), duration_sd = sd(months))
}
write_doc <- function(out) {  # after each scenario: the scenarios done so far
  doc <- list(
    package = paste("bfboin", packageVersion("bfboin"), "(openpharma/bfboin commit 03a1b83), BOIN",
                  packageVersion("BOIN")),
  r = R.version.string, ntrial = ntrial, seed = seed,
  call = paste("set.seed(seed); purrr::map_df(1:ntrial, bfboin::sim.one.trial, target = 0.25,",
               "p.true = p_true, ncohort = 10, cohortsize = 3, n.earlystop = 9, startdose = 1,",
               "titration = FALSE, p.saf = 0.15, p.tox = 0.35, cutoff.eli = 0.95,",
               "extrasafe = FALSE, offset = 0.05, boundMTD = FALSE, n.cap = 12,",
               "end.backfill = TRUE, n.per.month = 3, dlt.window = 1, p.response.true = R,",
               "three.plus.three = FALSE, accrual = 'poisson', backfill.assign = 'highest')",
               "with R = p_response (bf_boin) or rep(0, 5) (no_response); as get.oc.bf"),
  units = "selpercent and percentstop in %; npatients, ntox per dose; duration in months",
  scenarios = out)
  writeLines(jsonlite::toJSON(doc, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           "tests/reference/bfboin/get_oc_bf_table3.json")
}
out <- list()
for (s in seq_along(dlt)) {
  out[[s]] <- list(scenario = s, p_true = dlt[[s]], p_response = response[[s]],
                   bf_boin = run(dlt[[s]], response[[s]]),
                   no_response = run(dlt[[s]], rep(0, 5)))
  cat("scenario", s, "done\n")
  write_doc(out)
}

