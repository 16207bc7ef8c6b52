# BF-BOIN's escalation decision after a cohort, as R's bfboin 0.1.1 makes it, on random pooled
# data: reference for `recommend --design boin+backfill` (tests/test_backfill_step.py).
# Run: R_LIBS=/tmp/rlib_bf:/tmp/rlib Rscript tests/reference/bfboin/decision.R
# bfboin has no decision function of its own: the decision is a block of sim.one.trial, from
# "## ...what does the decision rule say for each dose level" to just before
# "n.cohort= n.cohort + 1". This script takes that block's source text from the installed
# package's sim.one.trial, unchanged, and evaluates it on each state inside repeat { }, so that
# its `break` (the trial stops) leaves the block as it leaves the trial's loop. The state: pooled
# complete counts per dose (n.total, y.total; as sim.one.trial, the block reads doses 1..d),
# the current dose d (1-based), elimi (the eliminated doses bfboin remembers: here every dose
# above d from the lowest whose counts meet the elimination rule, as bayesdose derives them).
# Settings: the published ones (configs/bf-boin.toml): target 0.25, 5 doses, 10 cohorts of 3,
# n.earlystop 9, cutoff.eli 0.95, n.cap 12; the boundaries as sim.one.trial computes them.
# A stop by n.earlystop selects the MTD with BOIN::select.mtd on every dose's pooled counts.
library(bfboin)
target <- 0.25; ncohort <- 10; cohortsize <- 3; n.earlystop <- 9; cutoff.eli <- 0.95
n.cap <- 12; ndose <- 5; extrasafe <- FALSE; offset <- 0.05; three.plus.three <- FALSE
p.saf <- 0.6 * target; p.tox <- 1.4 * target
temp <- BOIN::get.boundary(target, ncohort + ndose * ceiling(n.cap / cohortsize), cohortsize,
                           n.earlystop = ncohort * cohortsize + ndose * n.cap, p.saf, p.tox,
                           cutoff.eli, extrasafe)$full_boundary_tab
b.e <- temp[2, ]; b.d <- temp[3, ]; b.elim <- temp[4, ]
src <- deparse(body(bfboin::sim.one.trial), width.cutoff = 500L)
first <- grep("decision = ifelse(y.total <= b.e", src, fixed = TRUE)
last <- grep("n.cohort = n.cohort + 1", src, fixed = TRUE) - 1
block <- parse(text = c("repeat {", src[first:last], "finished <- TRUE", "break", "}"))
decide <- function(n, y, d) {
  elim <- y >= b.elim[pmax(1, n)] & n > 0
  elimi <- rep(0, ndose)
  above <- which(elim & seq_len(ndose) > d)
  if (length(above)) elimi[min(above):ndose] <- 1
  env <- new.env()
  assign("y.total", y[1:d], env); assign("n.total", n[1:d], env)
  assign("n.total.rec", n[1:d], env); assign("d", d, env); assign("elimi", elimi, env)
  assign("earlystop", 0, env); assign("finished", FALSE, env)
  for (v in c("b.e", "b.d", "b.elim", "ndose", "n.earlystop", "three.plus.three", "extrasafe",
              "offset", "target", "cutoff.eli")) assign(v, get(v), env)
  eval(block[[1]], env)
  stopped <- !env$finished
  mtd <- NA
  if (stopped && env$earlystop == 0) {
    mtd <- BOIN::select.mtd(target, n, y, cutoff.eli, extrasafe, offset, boundMTD = FALSE,
                            p.tox = p.tox)$MTD
  }
  list(n = n, y = y, d = d, next_d = if (stopped) NA else env$d, stopped = stopped,
       safety = env$earlystop == 1, mtd = mtd)
}
set.seed(16)
states <- list()
for (i in 1:3000) {
  d <- sample(1:ndose, 1)
  n <- rep(0L, ndose); y <- rep(0L, ndose)
  for (k in 1:ndose) {
    if (k <= d) n[k] <- sample(3:18, 1) else if (runif(1) < 0.3) n[k] <- 3L * sample(1:2, 1)
    y[k] <- rbinom(1, n[k], runif(1, 0, 0.6))
  }
  states[[i]] <- decide(n, y, d)
}
cat("block source:\n", paste(src[first:last], collapse = "\n"), "\n", file = stderr())
out <- list(package = paste("bfboin", packageVersion("bfboin"), "(openpharma/bfboin commit 03a1b83), BOIN",
                            packageVersion("BOIN")),
            r = R.version.string, seed = 16, states = length(states),
            call = "decide(n, y, d): the decision block of bfboin::sim.one.trial (see this script)",
            settings = list(target = target, ncohort = ncohort, cohortsize = cohortsize,
                            n_earlystop = n.earlystop, cutoff_eli = cutoff.eli, n_cap = n.cap),
            cases = states)
writeLines(jsonlite::toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null"),
           "tests/reference/bfboin/decision.json")
