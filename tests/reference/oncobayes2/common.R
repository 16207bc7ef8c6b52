## Shared helpers for the OncoBayes2 reference scripts (map_vignette.R, exnex.R).
## Sourced, not run on its own.
suppressPackageStartupMessages({
  library(OncoBayes2)
  library(posterior)
  library(jsonlite)
})

## MCMC settings; the environment variables exist only for quick smoke runs
## (the committed JSON files were made with the defaults below).
mc_settings <- function(iter_default, warmup_default = 2000, chains_default = 4) {
  list(
    iter = as.integer(Sys.getenv("OB2REF_ITER", iter_default)),      # post-warmup per chain
    warmup = as.integer(Sys.getenv("OB2REF_WARMUP", warmup_default)),
    chains = as.integer(Sys.getenv("OB2REF_CHAINS", chains_default)),
    cores = as.integer(Sys.getenv("OB2REF_CORES", 2))
  )
}

set_mc_options <- function(mc) {
  options(
    OncoBayes2.MC.iter = mc$warmup + mc$iter,   # OncoBayes2's iter includes warmup (rstan convention)
    OncoBayes2.MC.warmup = mc$warmup,
    OncoBayes2.MC.chains = mc$chains,
    OncoBayes2.MC.save_warmup = TRUE,           # default; needed for beta_EX_prob to be kept
    mc.cores = mc$cores
  )
}

## post-warmup draws of the stanfit as a posterior draws_array (iteration x chain x variable)
fit_draws <- function(fit) {
  arr <- rstan::extract(fit$stanfit, permuted = FALSE, inc_warmup = FALSE)
  posterior::as_draws_array(arr)
}

## build a draws_array from a named list of iteration x chain matrices
make_draws <- function(lst) {
  it <- nrow(lst[[1]]); ch <- ncol(lst[[1]])
  a <- array(NA_real_, dim = c(it, ch, length(lst)),
             dimnames = list(iteration = NULL, chain = NULL, variable = names(lst)))
  for (k in seq_along(lst)) a[, , k] <- lst[[k]]
  posterior::as_draws_array(a)
}

## iteration x chain matrix of one variable
var_mat <- function(dr, v) {
  m <- unclass(dr[, , v, drop = TRUE])
  if (is.null(dim(m))) m <- matrix(m, ncol = 1)
  m
}

probs <- c(0.025, 0.5, 0.975)

## full summary of every variable of a draws_array, as a named list of lists
summarise_full <- function(dr) {
  s <- posterior::summarise_draws(
    dr,
    mean = mean, sd = sd,
    q = ~ quantile(.x, probs = probs, names = FALSE, type = 7),
    mcse_mean = mcse_mean, mcse_sd = mcse_sd,
    mcse_q = ~ mcse_quantile(.x, probs = probs, names = FALSE),
    rhat = rhat, ess_bulk = ess_bulk, ess_tail = ess_tail
  )
  s <- as.data.frame(s)
  out <- list()
  for (i in seq_len(nrow(s))) {
    out[[s$variable[i]]] <- list(
      mean = s$mean[i], sd = s$sd[i],
      q2.5 = s$q.1[i], q50 = s$q.2[i], q97.5 = s$q.3[i],
      mcse_mean = s$mcse_mean[i], mcse_sd = s$mcse_sd[i],
      mcse_q2.5 = s$mcse_q.1[i], mcse_q50 = s$mcse_q.2[i], mcse_q97.5 = s$mcse_q.3[i],
      rhat = s$rhat[i], ess_bulk = s$ess_bulk[i], ess_tail = s$ess_tail[i]
    )
  }
  out
}

## correlation of two iteration x chain matrices over all draws, with a batch-means
## Monte Carlo standard error (each chain cut into nb consecutive batches)
cor_with_mcse <- function(x, y, nb = 20) {
  r <- cor(as.vector(x), as.vector(y))
  it <- nrow(x); bl <- it %/% nb
  rb <- c()
  for (ch in seq_len(ncol(x))) for (b in seq_len(nb)) {
    idx <- ((b - 1) * bl + 1):(b * bl)
    rb <- c(rb, cor(x[idx, ch], y[idx, ch]))
  }
  list(value = r, mcse_batch_means = sd(rb) / sqrt(length(rb)),
       mcse_note = sprintf("batch means: %d chains x %d batches of %d draws", ncol(x), nb, bl))
}

sampler_diagnostics <- function(fit) {
  sp <- rstan::get_sampler_params(fit$stanfit, inc_warmup = FALSE)
  list(
    divergent_transitions = sum(sapply(sp, function(m) sum(m[, "divergent__"]))),
    max_treedepth_hits = sum(sapply(sp, function(m) sum(m[, "treedepth__"] >= 10))),
    mean_stepsize_per_chain = sapply(sp, function(m) mean(m[, "stepsize__"]))
  )
}

provenance <- function() {
  list(
    package = "OncoBayes2",
    version = as.character(packageVersion("OncoBayes2")),
    version_note = "OncoBayes2 0.8-8 from /work/shared/r/OncoBayes2_0.8-8.tar.gz (CRAN release tree), installed by /work/shared/r/install_oncobayes2.sh",
    rstan_version = as.character(packageVersion("rstan")),
    StanHeaders_version = as.character(packageVersion("StanHeaders")),
    posterior_version = as.character(packageVersion("posterior")),
    R_version = R.version.string,
    platform = R.version$platform,
    date = format(Sys.time(), "%Y-%m-%dT%H:%M:%S%z", tz = "UTC")
  )
}

write_json_full <- function(x, path) {
  writeLines(jsonlite::toJSON(x, auto_unbox = TRUE, pretty = TRUE, digits = NA, null = "null", na = "null"),
             path)
}
