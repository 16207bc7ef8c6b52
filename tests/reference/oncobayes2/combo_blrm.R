## Reference 3: the two-drug combination BLRM (Neuenschwander et al. 2015) fitted by OncoBayes2
## 0.8-8 to trial data of a 4 x 3 grid (drug A 25-100 mg, reference 80; drug B 0.5-3 mg,
## reference 1), with monotherapy rows (a dose 0 is the drug absent: log(0) = -Inf, which
## OncoBayes2's Stan model treats as "not given"). Two cases:
##   saturating: interaction 2 eta x / (1 + x), eta ~ N(0, (log 9 / 1.96)^2) (the MAP vignette's)
##   linear:     interaction eta x, eta ~ N(0.5, 1^2), data showing a toxic combination
## x = (d_A / 80) (d_B / 1). One group, no hierarchy: prior_tau_dist = 0 fixes tau at its
## mean 0, so each drug's (log alpha, log beta) has the independent normal prior
## N(prior_EX_mu_mean_comp, prior_EX_mu_sd_comp^2) (0.8-8 has no correlated or mixture prior
## for mu). P(DLT) per pair is computed from the parameter draws with the model's formula
## and checked against OncoBayes2's own summary(fit, newdata) on the same draws (the
## `crosscheck` entries: zero up to rounding means our formula is OncoBayes2's).
##
## Run (from the repository root):
##   R_LIBS=/tmp/rlib_ob2:/tmp/rlib Rscript tests/reference/oncobayes2/combo_blrm.R
## writes tests/reference/oncobayes2/combo_blrm.json
here <- local({
  a <- commandArgs(FALSE); f <- sub("^--file=", "", a[grep("^--file=", a)])
  if (length(f)) dirname(normalizePath(f)) else "tests/reference/oncobayes2"
})
source(file.path(here, "common.R"))

mc <- mc_settings(iter_default = 20000, warmup_default = 1000)
set_mc_options(mc)

dref <- c(A = 80, B = 1)
levels_A <- c(25, 50, 80, 100)
levels_B <- c(0.5, 1, 3)
interval_prob <- c(0, 0.16, 0.33, 1)
interval_names <- c("(0,0.16]", "(0.16,0.33]", "(0.33,1]")
prior_mu_mean <- rbind(A = c(-1.73, 0.36), B = c(-2.76, -0.45))
prior_mu_sd <- rbind(A = c(0.80, 0.72), B = c(0.64, 0.55))

cases <- list(
  saturating = list(
    form = "saturating", eta_mean = 0, eta_sd = log(9) / 1.96, seed = 20240621L,
    data = data.frame(drug_A = c(25, 50, 50, 80, 80, 0, 50),
                      drug_B = c(0.5, 0.5, 1, 1, 3, 1, 0),
                      num_patients = c(3, 3, 6, 6, 3, 3, 3),
                      num_toxicities = c(0, 0, 1, 2, 2, 0, 0))),
  linear = list(
    form = "linear", eta_mean = 0.5, eta_sd = 1, seed = 20240622L,
    data = data.frame(drug_A = c(25, 50, 50, 0, 25),
                      drug_B = c(0.5, 0.5, 0, 1, 1),
                      num_patients = c(3, 3, 6, 6, 3),
                      num_toxicities = c(1, 2, 0, 0, 2)))
)

formula_of <- function(form) {
  inter <- if (form == "saturating") {
    "0 + I(2 * (drug_A / 80 * drug_B / 1) / (1 + drug_A / 80 * drug_B / 1))"
  } else {
    "0 + I(drug_A / 80 * drug_B / 1)"
  }
  as.formula(paste("cbind(num_toxicities, num_patients - num_toxicities) ~",
                   "1 + I(log(drug_A / 80)) | 1 + I(log(drug_B / 1)) |", inter, "| group_id"))
}

g_of <- function(form, a, b) {
  x <- (a / dref[["A"]]) * (b / dref[["B"]])
  if (form == "saturating") 2 * x / (1 + x) else x
}

fit_case <- function(cs) {
  dat <- cbind(group_id = factor("trial_AB"), cs$data)
  set.seed(cs$seed)
  t0 <- proc.time()[["elapsed"]]
  fit <- blrm_exnex(
    formula_of(cs$form), data = dat,
    prior_EX_mu_mean_comp = prior_mu_mean, prior_EX_mu_sd_comp = prior_mu_sd,
    prior_EX_tau_mean_comp = matrix(0, 2, 2), prior_EX_tau_sd_comp = matrix(1, 2, 2),
    prior_EX_mu_mean_inter = cs$eta_mean, prior_EX_mu_sd_inter = cs$eta_sd,
    prior_EX_tau_mean_inter = matrix(0, 1, 1), prior_EX_tau_sd_inter = matrix(1, 1, 1),
    prior_is_EXNEX_comp = c(FALSE, FALSE), prior_is_EXNEX_inter = FALSE,
    prior_EX_prob_comp = matrix(1, 1, 2), prior_EX_prob_inter = matrix(1, 1, 1),
    prior_tau_dist = 0
  )
  list(fit = fit, data = dat, seconds = proc.time()[["elapsed"]] - t0)
}

eval_pairs <- rbind(
  expand.grid(drug_A = levels_A, drug_B = levels_B),
  data.frame(drug_A = levels_A, drug_B = 0),
  data.frame(drug_A = 0, drug_B = levels_B))

result <- list(
  provenance = provenance(),
  description = paste(
    "Two-drug BLRM: logit p_i(d_i) = log alpha_i + beta_i log(d_i / d*_i), p0 = 1 - (1 - p_A)(1 - p_B),",
    "odds(p_AB) = odds(p0) exp(eta g), g = 2x/(1+x) (saturating) or x (linear), x = (d_A/80)(d_B/1);",
    "a dose 0 = the drug absent. Independent normal priors on log alpha_i, log beta_i (means",
    "prior_mu_mean, sds prior_mu_sd, rows A and B, columns log alpha, log beta) and on eta."),
  call_template = paste(
    "blrm_exnex(cbind(num_toxicities, num_patients - num_toxicities) ~ 1 + I(log(drug_A / 80)) |",
    "1 + I(log(drug_B / 1)) | 0 + I(<g>) | group_id, data = <case data, group_id = 'trial_AB'>,",
    "prior_EX_mu_mean_comp = prior_mu_mean, prior_EX_mu_sd_comp = prior_mu_sd,",
    "prior_EX_tau_mean_comp = matrix(0, 2, 2), prior_EX_tau_sd_comp = matrix(1, 2, 2),",
    "prior_EX_mu_mean_inter = <eta_mean>, prior_EX_mu_sd_inter = <eta_sd>,",
    "prior_EX_tau_mean_inter = matrix(0, 1, 1), prior_EX_tau_sd_inter = matrix(1, 1, 1),",
    "prior_is_EXNEX_comp = c(FALSE, FALSE), prior_is_EXNEX_inter = FALSE,",
    "prior_EX_prob_comp = matrix(1, 1, 2), prior_EX_prob_inter = matrix(1, 1, 1), prior_tau_dist = 0)"),
  inputs = list(reference_doses = as.list(dref), levels_A = levels_A, levels_B = levels_B,
                prior_mu_mean = list(A = prior_mu_mean["A", ], B = prior_mu_mean["B", ]),
                prior_mu_sd = list(A = prior_mu_sd["A", ], B = prior_mu_sd["B", ]),
                interval_prob = interval_prob),
  mcmc = list(
    chains = mc$chains, warmup_per_chain = mc$warmup, iter_post_warmup_per_chain = mc$iter,
    total_post_warmup_draws = mc$chains * mc$iter, thin = 1,
    sampler = "rstan NUTS via blrm_exnex defaults: adapt_delta = 0.99, stepsize = 0.1, init = 0.5",
    seed_note = "set.seed(seed) immediately before blrm_exnex(); rstan takes its seed from R's RNG"),
  summary_conventions = list(
    intervals = "right-closed as in OncoBayes2 summary(): (0,0.16], (0.16,0.33], (0.33,1]",
    mcse = "posterior package: mcse_mean / mcse_sd; interval probabilities: mcse_mean of indicator draws"),
  cases = list()
)

for (nm in names(cases)) {
  cs <- cases[[nm]]
  message("fitting ", nm, " ...")
  f <- fit_case(cs)
  fit <- f$fit
  dr <- fit_draws(fit)
  vars <- posterior::variables(dr)
  pick <- function(pattern) {
    v <- grep(pattern, vars, value = TRUE)
    stopifnot(length(v) == 1)
    var_mat(dr, v)
  }
  la_A <- pick("^beta_group\\[trial_AB,I\\(log\\(drug_A.*,intercept\\]$")
  b_A <- pick("^beta_group\\[trial_AB,I\\(log\\(drug_A.*,slope\\]$")
  la_B <- pick("^beta_group\\[trial_AB,I\\(log\\(drug_B.*,intercept\\]$")
  b_B <- pick("^beta_group\\[trial_AB,I\\(log\\(drug_B.*,slope\\]$")
  eta <- pick("^eta_group\\[trial_AB,")
  pd <- list(); ind <- list(); keys <- character(0)
  for (k in seq_len(nrow(eval_pairs))) {
    a <- eval_pairs$drug_A[k]; b <- eval_pairs$drug_B[k]
    key <- sprintf("%g,%g", a, b); keys <- c(keys, key)
    pA <- if (a > 0) inv_logit(la_A + b_A * log(a / dref[["A"]])) else 0 * la_A
    pB <- if (b > 0) inv_logit(la_B + b_B * log(b / dref[["B"]])) else 0 * la_B
    p0 <- 1 - (1 - pA) * (1 - pB)
    p <- inv_logit(logit(p0) + eta * g_of(cs$form, a, b))
    pd[[key]] <- p
    ind[[paste0(key, "#1")]] <- (p > 0 & p <= 0.16) * 1
    ind[[paste0(key, "#2")]] <- (p > 0.16 & p <= 0.33) * 1
    ind[[paste0(key, "#3")]] <- (p > 0.33 & p <= 1) * 1
  }
  s_p <- summarise_full(make_draws(pd))
  s_i <- as.data.frame(posterior::summarise_draws(make_draws(ind), mean = mean, mcse_mean = mcse_mean))
  rownames(s_i) <- s_i$variable
  nd <- cbind(group_id = factor("trial_AB"), eval_pairs, num_patients = 0, num_toxicities = 0)
  ob2 <- summary(fit, newdata = nd, interval_prob = interval_prob)
  per_pair <- list()
  for (k in seq_along(keys)) {
    key <- keys[k]
    per_pair[[key]] <- list(
      drug_A = eval_pairs$drug_A[k], drug_B = eval_pairs$drug_B[k],
      p_dlt = s_p[[key]],
      interval_prob = setNames(as.list(s_i[paste0(key, "#", 1:3), "mean"]), interval_names),
      interval_prob_mcse = setNames(as.list(s_i[paste0(key, "#", 1:3), "mcse_mean"]), interval_names),
      oncobayes2_summary = list(mean = ob2$mean[k], sd = ob2$sd[k],
                                interval_prob = setNames(as.list(unlist(ob2[k, interval_names])), interval_names)))
  }
  params <- summarise_full(make_draws(list(log_alpha_A = la_A, log_beta_A = log(b_A),
                                           log_alpha_B = la_B, log_beta_B = log(b_B), eta = eta)))
  result$cases[[nm]] <- list(
    form = cs$form, eta_prior = list(mean = cs$eta_mean, sd = cs$eta_sd), seed = cs$seed,
    data = as.list(cs$data), run_seconds = f$seconds,
    sampler_diagnostics = sampler_diagnostics(fit),
    max_rhat = max(sapply(c(s_p, params), function(x) x$rhat)),
    parameters = params, pairs = per_pair,
    crosscheck = list(
      max_abs_diff_mean_vs_oncobayes2_summary = max(abs(sapply(per_pair, function(x) x$p_dlt$mean - x$oncobayes2_summary$mean))),
      max_abs_diff_interval_vs_oncobayes2_summary = max(abs(unlist(lapply(per_pair, function(x)
        unlist(x$interval_prob) - unlist(x$oncobayes2_summary$interval_prob)))))))
  rm(fit, f, dr); gc()
}

out <- file.path(here, "combo_blrm.json")
write_json_full(result, out)
message("wrote ", out)
for (nm in names(result$cases)) {
  x <- result$cases[[nm]]
  message(sprintf("%s (%.0f s): crosscheck mean %.2e, interval %.2e; max rhat %.5f; divergences %d",
                  nm, x$run_seconds, x$crosscheck$max_abs_diff_mean_vs_oncobayes2_summary,
                  x$crosscheck$max_abs_diff_interval_vs_oncobayes2_summary, x$max_rhat,
                  x$sampler_diagnostics$divergent_transitions))
}
