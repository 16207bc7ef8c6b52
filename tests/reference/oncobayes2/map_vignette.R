## Reference 1: the MAP priors of OncoBayes2's vignette "Meta-Analytic-Predictive (MAP)
## approach for dose-toxicity modelling" (drug A and drug B single-agent histories),
## computed with OncoBayes2 0.8-8.
##
## 0.8-8 has no `sample_map = TRUE` (added in 0.9-0) and no RBesT `mixmvnorm` prior
## arguments; the priors are given as the mean/sd matrices, and the MAP draw of a new
## trial's (log alpha, log beta) is the posterior draw of an extra group "MAP" whose only
## data row has num_patients = 0 (its likelihood contribution is exactly zero in the Stan
## model, so its parameters are drawn from BVN(mu, Sigma) given the hyper-parameter draw).
##
## Run (from the repository root):
##   R_LIBS=/tmp/rlib_ob2 Rscript tests/reference/oncobayes2/map_vignette.R
## writes tests/reference/oncobayes2/map_vignette.json
here <- local({
  a <- commandArgs(FALSE); f <- sub("^--file=", "", a[grep("^--file=", a)])
  if (length(f)) dirname(normalizePath(f)) else "tests/reference/oncobayes2"
})
source(file.path(here, "common.R"))

mc <- mc_settings(iter_default = 50000)
set_mc_options(mc)
seeds <- c(A = 20240601L, B = 20240602L)

prior_mu_mean <- c(logit(0.2), 0)
prior_mu_sd <- c(1, log(4) / 1.96)

drugs <- list(
  A = list(dose = c(12.5, 25, 50, 80, 100, 150),
           num_patients = c(1, 1, 3, 9, 23, 3),
           num_toxicities = c(0, 0, 0, 1, 4, 2),
           dref = 80,
           tau_mean = log(c(0.5, 0.25)), tau_sd = rep(log(2) / 1.96, 2),
           tau_label = "substantial",
           vignette = list(log_alpha = c(mean = -1.73, sd = 0.82),
                           log_beta = c(mean = 0.34, sd = 0.72))),
  B = list(dose = c(0.125, 0.25, 0.5, 1, 2, 2.5, 3, 4),
           num_patients = c(2, 1, 2, 2, 3, 7, 12, 3),
           num_toxicities = c(0, 0, 0, 0, 1, 0, 0, 1),
           dref = 1,
           tau_mean = log(c(0.125, 0.0625)), tau_sd = rep(log(4) / 1.96, 2),
           tau_label = "small (with greater uncertainty)",
           vignette = list(log_alpha = c(mean = -2.74, sd = 0.62),
                           log_beta = c(mean = -0.45, sd = 0.53)))
)

fit_drug <- function(d, seed) {
  dref <- d$dref
  dat <- data.frame(
    group_id = factor(c(rep("hist", length(d$dose)), "MAP"), levels = c("hist", "MAP")),
    dose = c(d$dose, dref),
    num_patients = c(d$num_patients, 0),
    num_toxicities = c(d$num_toxicities, 0)
  )
  set.seed(seed)   # rstan::sampling draws its seed from R's RNG (seed = sample.int(.Machine$integer.max, 1))
  t0 <- proc.time()[["elapsed"]]
  fit <- blrm_exnex(
    cbind(num_toxicities, num_patients - num_toxicities) ~ 1 + log(dose / dref) | 0 | group_id,
    data = dat,
    prior_EX_mu_mean_comp = matrix(prior_mu_mean, nrow = 1, ncol = 2),
    prior_EX_mu_sd_comp = matrix(prior_mu_sd, nrow = 1, ncol = 2),
    prior_EX_tau_mean_comp = matrix(d$tau_mean, nrow = 1, ncol = 2),
    prior_EX_tau_sd_comp = matrix(d$tau_sd, nrow = 1, ncol = 2),
    prior_EX_corr_eta_comp = 1,
    prior_EX_prob_comp = matrix(1, nrow = 2, ncol = 1),
    prior_is_EXNEX_comp = FALSE,
    prior_tau_dist = 1
  )
  list(fit = fit, data = dat, seconds = proc.time()[["elapsed"]] - t0)
}

result <- list(
  provenance = provenance(),
  description = paste(
    "MAP (meta-analytic-predictive) distribution of a new trial's (log alpha, log beta) from one",
    "historical single-agent trial, OncoBayes2 vignette 'Meta-Analytic-Predictive (MAP) approach for",
    "dose-toxicity modelling' (drug A and drug B). Model: logit p_j(d) = log alpha_j + beta_j log(d/dref),",
    "(log alpha_j, log beta_j) ~ BVN(mu, Sigma), Sigma = diag(tau) R diag(tau), corr R ~ LKJ(1);",
    "mu_alpha ~ N(logit 0.2, 1^2), mu_beta ~ N(0, (log(4)/1.96)^2) independent; log tau_alpha, log tau_beta",
    "independent normal (prior_tau_dist = 1, log-normal tau). MAP = draw of group 'MAP' (no data)."),
  call_template = paste(
    "blrm_exnex(cbind(num_toxicities, num_patients - num_toxicities) ~ 1 + log(dose / dref) | 0 | group_id,",
    "data = <hist rows + one row group_id='MAP', dose=dref, num_patients=0, num_toxicities=0>,",
    "prior_EX_mu_mean_comp = matrix(c(logit(0.2), 0), 1), prior_EX_mu_sd_comp = matrix(c(1, log(4)/1.96), 1),",
    "prior_EX_tau_mean_comp = matrix(<tau_log_mean>, 1), prior_EX_tau_sd_comp = matrix(<tau_log_sd>, 1),",
    "prior_EX_corr_eta_comp = 1, prior_EX_prob_comp = matrix(1, 2, 1), prior_is_EXNEX_comp = FALSE,",
    "prior_tau_dist = 1)"),
  mcmc = list(
    chains = mc$chains, warmup_per_chain = mc$warmup, iter_post_warmup_per_chain = mc$iter,
    total_post_warmup_draws = mc$chains * mc$iter, thin = 1,
    sampler = "rstan NUTS via blrm_exnex defaults: adapt_delta = 0.99, stepsize = 0.1, init = 0.5",
    seeds = as.list(seeds),
    seed_note = "set.seed(seed) immediately before blrm_exnex(); rstan takes its seed from R's RNG"
  ),
  summary_conventions = list(
    quantiles = "type-7 quantiles over all post-warmup draws (R quantile default)",
    mcse = "posterior package (Vehtari et al. 2021): mcse_mean, mcse_sd, mcse_quantile; rhat, ess_bulk, ess_tail",
    correlation_mcse = "batch means over chains x 20 batches",
    log_beta = "log of OncoBayes2's beta_group[..., slope] (the Stan model stores the slope exponentiated)"
  ),
  drugs = list()
)

for (nm in names(drugs)) {
  d <- drugs[[nm]]
  message("fitting drug ", nm, " ...")
  f <- fit_drug(d, seeds[[nm]])
  fit <- f$fit
  dr <- fit_draws(fit)
  vars <- posterior::variables(dr)
  comp <- grep("^mu_log_beta\\[", vars, value = TRUE)
  message("variables: ", paste(vars, collapse = " "))
  pick <- function(pattern) {
    v <- grep(pattern, vars, value = TRUE)
    stopifnot(length(v) == 1)
    var_mat(dr, v)
  }
  la_map <- pick("^beta_group\\[MAP,.*,intercept\\]$")
  lb_map <- log(pick("^beta_group\\[MAP,.*,slope\\]$"))
  la_hist <- pick("^beta_group\\[hist,.*,intercept\\]$")
  lb_hist <- log(pick("^beta_group\\[hist,.*,slope\\]$"))
  mu_a <- pick("^mu_log_beta\\[.*,intercept\\]$")
  mu_b <- pick("^mu_log_beta\\[.*,log_slope\\]$")
  tau_a <- pick("^tau_log_beta\\[.*,intercept\\]$")
  tau_b <- pick("^tau_log_beta\\[.*,log_slope\\]$")
  rho <- pick("^rho_log_beta\\[")
  sdr <- make_draws(list(
    map_log_alpha = la_map, map_log_beta = lb_map,
    hist_log_alpha = la_hist, hist_log_beta = lb_hist,
    mu_log_alpha = mu_a, mu_log_beta = mu_b,
    tau_alpha = tau_a, tau_beta = tau_b, rho = rho
  ))
  s <- summarise_full(sdr)
  map_cor <- cor_with_mcse(la_map, lb_map)
  vg <- d$vignette
  cmp <- list()
  for (p in c("log_alpha", "log_beta")) {
    ours <- s[[paste0("map_", p)]]
    cmp[[p]] <- list(
      vignette_mean = vg[[p]][["mean"]], vignette_sd = vg[[p]][["sd"]],
      ours_mean = ours$mean, ours_sd = ours$sd,
      diff_mean = ours$mean - vg[[p]][["mean"]], diff_sd = ours$sd - vg[[p]][["sd"]],
      vignette_mc_error_mean_approx = ours$sd / sqrt(2000 * ours$ess_bulk / (mc$chains * mc$iter))
    )
  }
  result$drugs[[nm]] <- list(
    inputs = list(
      dose = d$dose, num_patients = d$num_patients, num_toxicities = d$num_toxicities,
      reference_dose = d$dref,
      prior_EX_mu_mean_comp = prior_mu_mean, prior_EX_mu_sd_comp = prior_mu_sd,
      prior_EX_tau_mean_comp_log = d$tau_mean, prior_EX_tau_sd_comp_log = d$tau_sd,
      tau_prior_medians = exp(d$tau_mean),
      tau_heterogeneity_label = d$tau_label,
      prior_tau_dist = 1, prior_EX_corr_eta_comp = 1
    ),
    seed = seeds[[nm]],
    run_seconds = f$seconds,
    sampler_diagnostics = sampler_diagnostics(fit),
    map = list(
      log_alpha = s$map_log_alpha, log_beta = s$map_log_beta,
      correlation_log_alpha_log_beta = map_cor
    ),
    hyper = list(
      mu_log_alpha = s$mu_log_alpha, mu_log_beta = s$mu_log_beta,
      tau_alpha = s$tau_alpha, tau_beta = s$tau_beta,
      rho = s$rho
    ),
    hist_trial_posterior = list(log_alpha = s$hist_log_alpha, log_beta = s$hist_log_beta),
    vignette_comparison = cmp,
    vignette_comparison_note = paste(
      "The vignette prints mean +- sd of rvar<500,4> (2000 draws), rounded to 2 decimals;",
      "vignette_mc_error_mean_approx is the MC error its mean would have with 2000 draws at this",
      "run's ESS ratio. Differences well within that plus rounding (0.005) count as agreement.")
  )
  rm(fit, f, dr, sdr); gc()
}

out <- file.path(here, "map_vignette.json")
write_json_full(result, out)
message("wrote ", out)
for (nm in names(result$drugs)) {
  x <- result$drugs[[nm]]
  message(sprintf("drug %s (%.0f s): MAP log alpha %.4f (sd %.4f), log beta %.4f (sd %.4f), cor %.4f; vignette %s",
                  nm, x$run_seconds, x$map$log_alpha$mean, x$map$log_alpha$sd,
                  x$map$log_beta$mean, x$map$log_beta$sd, x$map$correlation_log_alpha_log_beta$value,
                  paste(unlist(drugs[[nm]]$vignette), collapse = " ")))
}
