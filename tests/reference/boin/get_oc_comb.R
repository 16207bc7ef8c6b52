# Reference operating characteristics of R BOIN 2.7.2's get.oc.comb for bayesdose's
# boin-comb (mtd.contour = FALSE) and waterfall (mtd.contour = TRUE) designs.
# Run: R_LIBS=/tmp/rlib Rscript get_oc_comb.R NTRIAL  (writes get_oc_comb.json)
suppressMessages(library(BOIN)); library(jsonlite)
args <- commandArgs(trailingOnly = TRUE)
ntrial <- as.integer(args[1])
scenarios <- list(
  "boin-example" = matrix(c(0.01,0.03,0.10,0.20,0.30,
                            0.03,0.05,0.15,0.30,0.60,
                            0.08,0.10,0.30,0.60,0.75), byrow = TRUE, ncol = 5),
  "staircase" = matrix(c(0.05,0.10,0.20,0.30,0.50,
                         0.10,0.20,0.30,0.50,0.60,
                         0.20,0.30,0.50,0.60,0.70), byrow = TRUE, ncol = 5))
out <- list(version = as.character(packageVersion("BOIN")), r = R.version.string,
            ntrial = ntrial, seed = 6, results = list())
for (name in names(scenarios)) {
  p <- scenarios[[name]]
  boin <- get.oc.comb(target = 0.3, p.true = p, ncohort = 20, cohortsize = 3,
                      n.earlystop = 12, startdose = c(1, 1), ntrial = ntrial, seed = 6)
  wf <- get.oc.comb(target = 0.3, p.true = p, ncohort = c(10, 5, 5), cohortsize = 3,
                    n.earlystop = 12, startdose = c(1, 1), ntrial = ntrial, seed = 6,
                    mtd.contour = TRUE)
  out$results[[name]] <- list(
    p_true = p,
    "boin-comb" = list(call = sprintf("get.oc.comb(target=0.3, p.true, ncohort=20, cohortsize=3, n.earlystop=12, startdose=c(1,1), ntrial=%d, seed=6)", ntrial),
                       selpercent = unclass(boin$selpercent), npatients = unclass(boin$npatients),
                       ntox = unclass(boin$ntox), totaln = boin$totaln, totaltox = boin$totaltox,
                       pcs = boin$pcs, percentstop = boin$percentstop),
    waterfall = list(call = sprintf("get.oc.comb(target=0.3, p.true, ncohort=c(10,5,5), cohortsize=3, n.earlystop=12, startdose=c(1,1), ntrial=%d, seed=6, mtd.contour=TRUE)", ntrial),
                     selpercent = unclass(wf$selpercent), npatients = unclass(wf$npatients),
                     ntox = unclass(wf$ntox), totaln = wf$totaln, totaltox = wf$totaltox,
                     pcs_contour = wf$pcs.contour))
}
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "get_oc_comb.json")
