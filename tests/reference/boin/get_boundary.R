# BOIN 2.7.2 get.boundary() for the protocols `bayesdose boundaries` is tested on.
# Run: R_LIBS=/tmp/rlib Rscript tests/reference/boin/get_boundary.R   (BOIN from /work/shared/r)
# Writes get_boundary.json next to this script: per case the exact call, lambda_e, lambda_d,
# the per-cohort table ($boundary_tab) and, when R gives it (cohortsize > 1), the full table.
suppressMessages(library(BOIN))
library(jsonlite)

here <- function() {
  file <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
  dirname(normalizePath(file))
}

table_of <- function(tab) {
  tab <- matrix(tab, nrow = 4)  # one column stays a matrix
  list(n_patients = tab[1, ], escalate_if_dlt_le = tab[2, ],
       deescalate_if_dlt_ge = tab[3, ], eliminate_if_dlt_ge = tab[4, ])
}

# a double as JSON with 17 significant digits (jsonlite rounds to 15): json.load gives R's double
exact <- function(x) structure(sprintf("%.17g", x), class = "json")

cases <- list(
  # configs/xj-mk-002.toml: target 0.25, cohorts of 3, at most 16 patients. get.boundary takes
  # ncohort * cohortsize patients, so the 16-patient table is the one of cohorts of 1.
  xj_mk_002_per_cohort = "get.boundary(target=0.25, ncohort=5, cohortsize=3)",
  xj_mk_002_full = "get.boundary(target=0.25, ncohort=16, cohortsize=1)",
  # configs/standard-5dose.toml: target 0.3, cohorts of 3, 30 patients
  standard_5dose = "get.boundary(target=0.3, ncohort=10, cohortsize=3)",
  # n.earlystop truncates both tables
  earlystop_12 = "get.boundary(target=0.3, ncohort=10, cohortsize=3, n.earlystop=12)",
  # a lower elimination cutoff, cohorts of 2
  cutoff_090 = "get.boundary(target=0.2, ncohort=12, cohortsize=2, cutoff.eli=0.9)",
  # lambda_d * n an integer (to 1e-12): get.boundary de-escalates only above it (round + 1)
  tie_deescalation = "get.boundary(target=0.25, ncohort=4, cohortsize=3, p.tox=0.42430609056700125)"
)

out <- list(provenance = list(package = "BOIN", version = as.character(packageVersion("BOIN")),
                              R_version = R.version.string,
                              date = format(Sys.time(), "%Y-%m-%dT%H:%M:%S%z", tz = "UTC")),
            cases = list())
for (name in names(cases)) {
  b <- suppressWarnings(eval(parse(text = cases[[name]])))
  case <- list(call = cases[[name]], lambda_e = exact(b$lambda_e), lambda_d = exact(b$lambda_d),
               boundary_tab = table_of(b$boundary_tab))
  if (!is.null(b$full_boundary_tab)) case$full_boundary_tab <- table_of(b$full_boundary_tab)
  out$cases[[name]] <- case
}
writeLines(toJSON(out, auto_unbox = TRUE, pretty = TRUE, digits = NA, na = "null",
                 json_verbatim = TRUE),
           file.path(here(), "get_boundary.json"))
