## Reference 4: the joint hierarchical combination BLRM of OncoBayes2's introduction vignette
## ("Guiding Oncology Dose-Escalation Trials": hist_combo2 / codata_combo2), computed with
## OncoBayes2 0.8-8. Four fits of the vignette, each by its own call:
##   start:    blrm_trial(hist_combo2, drug_info_combo2, dose_info, simplified_prior = TRUE,
##             EXNEX_comp = FALSE, EX_prob_comp_hist = 1, EX_prob_comp_new = 1)
##             (monotherapy histories trial_A and trial_B only)
##   histdata: update(start, add_data = trial_AB stage 1)        (codata_combo2, cohort_time 1)
##   codata:   update(histdata, add_data = trial_A's concurrent data, cohort_time 1)
##   final:    update(start, data = codata_combo2)                (every row, IIT included)
## The simplified prior, as summary(trial, "blrm_exnex_call") prints it (recorded in the JSON):
##   mu_i ~ N((logit 0.2, 0), diag(2^2, 0.7^2)) for each drug; log tau_i ~ N((log 0.25,
##   log 0.125), sd) with sd matrix(log(c(4, 2)) / 1.96, nrow = 2, ncol = 2) - filled by column,
##   so drug A's two sds are log(4)/1.96 and drug B's are log(2)/1.96; rho_i ~ LKJ(1);
##   mu_eta ~ N(0, 1.5^2), log tau_eta ~ N(log 0.5, (log(2)/1.96)^2); fully exchangeable
##   (EX probability 1 everywhere); saturating interaction 2x/(1+x), x = (d_A/6)(d_B/1500).
## Summaries: trial_AB's P(DLT) at its 15 dose pairs of dose_info_combo2 (the vignette's 6 of
## drug A 3, 6 mg by drug B 0, 400, 800 mg among them), from the draws with MCSEs, next to
## OncoBayes2's own summary() on the same draws; and the hyper-parameters' posteriors.
##
## Run (from the repository root):
##   R_LIBS=/tmp/rlib_ob2 Rscript tests/reference/oncobayes2/codata_combo2.R
## writes tests/reference/oncobayes2/codata_combo2.json
here <- local({
  a <- commandArgs(FALSE); f <- sub("^--file=", "", a[grep("^--file=", a)])
  if (length(f)) dirname(normalizePath(f)) else "tests/reference/oncobayes2"
})
source(file.path(here, "common.R"))
suppressPackageStartupMessages({library(dplyr); library(tibble)})

mc <- mc_settings(iter_default = 10000, warmup_default = 1000)
set_mc_options(mc)
seeds <- c(start = 20240701L, histdata = 20240702L, codata = 20240703L, final = 20240704L)
interval_prob <- c(0, 0.16, 0.33, 1)
interval_names <- c("(0,0.16]", "(0.16,0.33]", "(0.33,1]")

dose_info <- filter(dose_info_combo2, group_id == "trial_AB", drug_A %in% c(3, 6),
                    drug_B %in% c(0, 400, 800))
eval_pairs <- filter(dose_info_combo2, group_id == "trial_AB") %>%
  mutate(stratum_id = factor("all"), dose_id = NULL)
trial_AB_data <- filter(codata_combo2, group_id == "trial_AB", cohort_time == 1)
trial_A_codata <- filter(codata_combo2, group_id == "trial_A", cohort_time == 1)

timed <- function(seed, expr) {
  set.seed(seed)
  t0 <- proc.time()[["elapsed"]]
  fit <- suppressWarnings(force(expr))
  list(fit = fit, seconds = proc.time()[["elapsed"]] - t0)
}
fits <- list()
fits$start <- timed(seeds[["start"]], blrm_trial(
  data = hist_combo2, drug_info = drug_info_combo2, dose_info = dose_info,
  simplified_prior = TRUE, EXNEX_comp = FALSE, EX_prob_comp_hist = 1, EX_prob_comp_new = 1))
fits$histdata <- timed(seeds[["histdata"]], update(fits$start$fit, add_data = trial_AB_data))
fits$codata <- timed(seeds[["codata"]], update(fits$histdata$fit, add_data = trial_A_codata))
fits$final <- timed(seeds[["final"]], update(fits$start$fit, data = codata_combo2))

summarise_fit <- function(f, name) {
  tr <- f$fit
  chains <- tr$blrmfit$stanfit@sim$chains
  # draws x pairs, chain after chain (as OncoBayes2's own ewoc_check reads them)
  pl <- posterior_linpred(tr, transform = TRUE, newdata = eval_pairs)
  pd <- list(); ind <- list(); keys <- character(0)
  for (k in seq_len(nrow(eval_pairs))) {
    key <- sprintf("%g,%g", eval_pairs$drug_A[k], eval_pairs$drug_B[k]); keys <- c(keys, key)
    p <- matrix(pl[, k], ncol = chains)
    pd[[key]] <- p
    ind[[paste0(key, "#1")]] <- (p > 0 & p <= 0.16) * 1
    ind[[paste0(key, "#2")]] <- (p > 0.16 & p <= 0.33) * 1
    ind[[paste0(key, "#3")]] <- (p > 0.33 & p <= 1) * 1
  }
  s_p <- summarise_full(make_draws(pd))
  s_i <- as.data.frame(posterior::summarise_draws(make_draws(ind), mean = mean,
                                                   mcse_mean = mcse_mean))
  rownames(s_i) <- s_i$variable
  ob2 <- summary(tr, "newdata_prediction", newdata = eval_pairs, interval_prob = interval_prob)
  per_pair <- list()
  for (k in seq_along(keys)) {
    key <- keys[k]
    per_pair[[key]] <- list(
      drug_A = eval_pairs$drug_A[k], drug_B = eval_pairs$drug_B[k], p_dlt = s_p[[key]],
      interval_prob = setNames(as.list(s_i[paste0(key, "#", 1:3), "mean"]), interval_names),
      interval_prob_mcse = setNames(as.list(s_i[paste0(key, "#", 1:3), "mcse_mean"]),
                                    interval_names),
      oncobayes2_summary = list(mean = ob2$mean[k], sd = ob2$sd[k],
                                interval_prob = setNames(as.list(unlist(ob2[k, interval_names])),
                                                         interval_names)))
  }
  dr <- fit_draws(tr$blrmfit)
  vars <- posterior::variables(dr)
  hyper <- grep("^(mu_log_beta|tau_log_beta|mu_eta|tau_eta|beta_group\\[trial_AB|eta_group\\[trial_AB)",
                vars, value = TRUE)
  data_used <- as.data.frame(tr$data)[, c("group_id", "drug_A", "drug_B", "num_patients",
                                          "num_toxicities", "cohort_time")]
  data_used$group_id <- as.character(data_used$group_id)
  list(seed = seeds[[name]], run_seconds = f$seconds, data = as.list(data_used),
       call = paste(deparse(summary(tr, "blrm_exnex_call")), collapse = " "),
       sampler_diagnostics = sampler_diagnostics(tr$blrmfit),
       max_rhat = max(sapply(s_p, function(x) x$rhat)),
       hyper_parameters = summarise_full(dr[, , hyper]),
       pairs = per_pair,
       crosscheck = list(
         max_abs_diff_mean_vs_oncobayes2_summary = max(abs(sapply(per_pair, function(x) x$p_dlt$mean - x$oncobayes2_summary$mean))),
         max_abs_diff_interval_vs_oncobayes2_summary = max(abs(unlist(lapply(per_pair, function(x)
           unlist(x$interval_prob) - unlist(x$oncobayes2_summary$interval_prob)))))))
}

result <- list(
  provenance = provenance(),
  description = paste(
    "OncoBayes2 introduction vignette, joint hierarchical (MAC) two-drug BLRM across the groups",
    "trial_A, trial_B, IIT, trial_AB: each drug's (log alpha, log beta) and the interaction eta",
    "exchangeable across groups; trial_AB's P(DLT) per pair after four data constellations."),
  vignette_calls = list(
    start = "blrm_trial(data = hist_combo2, drug_info = drug_info_combo2, dose_info = dose_info, simplified_prior = TRUE, EXNEX_comp = FALSE, EX_prob_comp_hist = 1, EX_prob_comp_new = 1)",
    histdata = "update(start, add_data = filter(codata_combo2, group_id == 'trial_AB', cohort_time == 1))",
    codata = "update(histdata, add_data = filter(codata_combo2, group_id == 'trial_A', cohort_time == 1))",
    final = "update(start, data = codata_combo2)",
    dose_info = "filter(dose_info_combo2, group_id == 'trial_AB', drug_A %in% c(3, 6), drug_B %in% c(0, 400, 800))"),
  prior_note = paste(
    "simplified prior (summary(trial, 'blrm_exnex_call')): prior_EX_mu_mean_comp rows (logit 0.2, 0);",
    "prior_EX_mu_sd_comp rows (2, 0.7); prior_EX_tau_mean_comp rows (log 0.25, log 0.125);",
    "prior_EX_tau_sd_comp = matrix(log(c(4, 2))/1.96, nrow = 2, ncol = 2), filled by column: drug A",
    "(log 4/1.96, log 4/1.96), drug B (log 2/1.96, log 2/1.96); mu_eta ~ N(0, 1.5^2);",
    "log tau_eta ~ N(log 0.5, (log 2/1.96)^2); prior_tau_dist = 1 (log-normal); all EX probabilities 1."),
  drug_info = list(drug_A = list(dose_ref = 6, unit = "mg"), drug_B = list(dose_ref = 1500, unit = "mg")),
  mcmc = list(
    chains = mc$chains, warmup_per_chain = mc$warmup, iter_post_warmup_per_chain = mc$iter,
    total_post_warmup_draws = mc$chains * mc$iter, thin = 1,
    sampler = "rstan NUTS via blrm_exnex defaults: adapt_delta = 0.99, stepsize = 0.1, init = 0.5",
    seed_note = "set.seed(seed) immediately before each blrm_trial()/update(); rstan takes its seed from R's RNG"),
  summary_conventions = list(
    intervals = "right-closed as in OncoBayes2 summary(): (0,0.16], (0.16,0.33], (0.33,1]",
    mcse = "posterior package: mcse_mean / mcse_sd / mcse_quantile; interval probabilities: mcse_mean of indicator draws"),
  fits = list()
)
for (nm in names(fits)) result$fits[[nm]] <- summarise_fit(fits[[nm]], nm)

out <- file.path(here, "codata_combo2.json")
write_json_full(result, out)
message("wrote ", out)
for (nm in names(result$fits)) {
  x <- result$fits[[nm]]
  message(sprintf("%s (%.0f s): crosscheck mean %.2e, interval %.2e; max rhat %.5f; divergences %d",
                  nm, x$run_seconds, x$crosscheck$max_abs_diff_mean_vs_oncobayes2_summary,
                  x$crosscheck$max_abs_diff_interval_vs_oncobayes2_summary, x$max_rhat,
                  x$sampler_diagnostics$divergent_transitions))
  for (k in names(x$pairs)) {
    p <- x$pairs[[k]]
    message(sprintf("  %-9s mean %.4f  P %.4f %.4f %.4f", k, p$p_dlt$mean,
                    p$interval_prob[[1]], p$interval_prob[[2]], p$interval_prob[[3]]))
  }
}
