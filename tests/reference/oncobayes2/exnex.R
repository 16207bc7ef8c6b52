## Reference 2: EXNEX / meta-analytic-combined (MAC) analysis of a current trial "new"
## together with drug A's historical trial "hist" (the MAP vignette's drug A data),
## computed with OncoBayes2 0.8-8.
##
## Scenarios (current-trial data):
##   a_exnex_agree:    EXNEX, p_EX(new) = 0.8; 25 mg 0/3, 50 mg 0/3, 80 mg 1/3
##   b_exnex_conflict: EXNEX, p_EX(new) = 0.8; 25 mg 1/3, 50 mg 2/3
##   c_mac_agree:      MAC (no NEX), p_EX = 1 for both groups; data of (a)
##
## Run (from the repository root):
##   R_LIBS=/tmp/rlib_ob2 Rscript tests/reference/oncobayes2/exnex.R
## writes tests/reference/oncobayes2/exnex.json
here <- local({
  a <- commandArgs(FALSE); f <- sub("^--file=", "", a[grep("^--file=", a)])
  if (length(f)) dirname(normalizePath(f)) else "tests/reference/oncobayes2"
})
source(file.path(here, "common.R"))

mc <- mc_settings(iter_default = 30000)
set_mc_options(mc)

dref <- 80
hist <- data.frame(group_id = "hist",
                   dose = c(12.5, 25, 50, 80, 100, 150),
                   num_patients = c(1, 1, 3, 9, 23, 3),
                   num_toxicities = c(0, 0, 0, 1, 4, 2))
current <- list(
  agree = data.frame(group_id = "new", dose = c(25, 50, 80),
                     num_patients = c(3, 3, 3), num_toxicities = c(0, 0, 1)),
  conflict = data.frame(group_id = "new", dose = c(25, 50),
                        num_patients = c(3, 3), num_toxicities = c(1, 2))
)
eval_doses <- c(12.5, 25, 50, 80, 100, 150)
interval_prob <- c(0, 0.16, 0.33, 1)
interval_names <- c("(0,0.16]", "(0.16,0.33]", "(0.33,1]")

prior_EX_mu_mean <- c(logit(0.2), 0)
prior_EX_mu_sd <- c(1, log(4) / 1.96)
prior_EX_tau_mean <- log(c(0.5, 0.25))
prior_EX_tau_sd <- rep(log(2) / 1.96, 2)
prior_NEX_mu_mean <- c(logit(0.2), 0)
prior_NEX_mu_sd <- c(2, 1)

scenarios <- list(
  a_exnex_agree = list(data = "agree", ex_prob = c(hist = 1, new = 0.8), exnex = TRUE, seed = 20240611L),
  b_exnex_conflict = list(data = "conflict", ex_prob = c(hist = 1, new = 0.8), exnex = TRUE, seed = 20240612L),
  c_mac_agree = list(data = "agree", ex_prob = c(hist = 1, new = 1), exnex = FALSE, seed = 20240613L)
)

fit_scenario <- function(sc) {
  dat <- rbind(hist, current[[sc$data]])
  dat$group_id <- factor(dat$group_id, levels = c("hist", "new"))
  args <- list(
    cbind(num_toxicities, num_patients - num_toxicities) ~ 1 + log(dose / dref) | 0 | group_id,
    data = dat,
    prior_EX_mu_mean_comp = matrix(prior_EX_mu_mean, nrow = 1, ncol = 2),
    prior_EX_mu_sd_comp = matrix(prior_EX_mu_sd, nrow = 1, ncol = 2),
    prior_EX_tau_mean_comp = matrix(prior_EX_tau_mean, nrow = 1, ncol = 2),
    prior_EX_tau_sd_comp = matrix(prior_EX_tau_sd, nrow = 1, ncol = 2),
    prior_EX_corr_eta_comp = 1,
    prior_EX_prob_comp = matrix(unname(sc$ex_prob), nrow = 2, ncol = 1),
    prior_is_EXNEX_comp = sc$exnex,
    prior_tau_dist = 1
  )
  if (sc$exnex) {
    args$prior_NEX_mu_mean_comp <- matrix(prior_NEX_mu_mean, nrow = 1, ncol = 2)
    args$prior_NEX_mu_sd_comp <- matrix(prior_NEX_mu_sd, nrow = 1, ncol = 2)
  }
  set.seed(sc$seed)
  t0 <- proc.time()[["elapsed"]]
  fit <- do.call(blrm_exnex, args)
  list(fit = fit, data = dat, seconds = proc.time()[["elapsed"]] - t0)
}

result <- list(
  provenance = provenance(),
  description = paste(
    "EXNEX / MAC analysis of a current trial ('new') with drug A's historical trial ('hist').",
    "Model per group j: logit p_j(d) = log alpha_j + beta_j log(d/80). EX part: (log alpha_j, log beta_j) ~",
    "BVN(mu, Sigma), mu ~ N((logit 0.2, 0), diag(1, (log(4)/1.96)^2)), tau log-normal with log-medians",
    "log(0.5), log(0.25) and log-sds log(2)/1.96, correlation LKJ(1). EXNEX: the current trial's parameters",
    "~ 0.8 * EX + 0.2 * NEX with NEX = BVN((logit 0.2, 0), diag(2^2, 1^2)); the historical trial is EX",
    "with probability 1. MAC: both groups EX with probability 1 (prior_is_EXNEX_comp = FALSE)."),
  call_template = paste(
    "blrm_exnex(cbind(num_toxicities, num_patients - num_toxicities) ~ 1 + log(dose / dref) | 0 | group_id,",
    "data = rbind(hist, current), prior_EX_mu_mean_comp = matrix(c(logit(0.2), 0), 1),",
    "prior_EX_mu_sd_comp = matrix(c(1, log(4)/1.96), 1), prior_EX_tau_mean_comp = matrix(log(c(0.5, 0.25)), 1),",
    "prior_EX_tau_sd_comp = matrix(rep(log(2)/1.96, 2), 1), prior_EX_corr_eta_comp = 1,",
    "prior_EX_prob_comp = matrix(c(1, <p_EX_new>), 2, 1), prior_is_EXNEX_comp = <TRUE|FALSE>,",
    "prior_NEX_mu_mean_comp = matrix(c(logit(0.2), 0), 1), prior_NEX_mu_sd_comp = matrix(c(2, 1), 1)",
    "[EXNEX only], prior_tau_dist = 1)"),
  inputs = list(
    reference_dose = dref,
    hist = as.list(hist[, -1]),
    current = lapply(current, function(x) as.list(x[, -1])),
    eval_doses = eval_doses,
    interval_prob = interval_prob,
    prior_EX_mu_mean_comp = prior_EX_mu_mean, prior_EX_mu_sd_comp = prior_EX_mu_sd,
    prior_EX_tau_mean_comp_log = prior_EX_tau_mean, prior_EX_tau_sd_comp_log = prior_EX_tau_sd,
    prior_tau_dist = 1, prior_EX_corr_eta_comp = 1,
    prior_NEX_mu_mean_comp = prior_NEX_mu_mean, prior_NEX_mu_sd_comp = prior_NEX_mu_sd
  ),
  mcmc = list(
    chains = mc$chains, warmup_per_chain = mc$warmup, iter_post_warmup_per_chain = mc$iter,
    total_post_warmup_draws = mc$chains * mc$iter, thin = 1,
    sampler = "rstan NUTS via blrm_exnex defaults: adapt_delta = 0.99, stepsize = 0.1, init = 0.5",
    seed_note = "set.seed(seed) immediately before blrm_exnex(); rstan takes its seed from R's RNG"
  ),
  summary_conventions = list(
    p_dlt = paste("P(DLT) draws of group 'new' at each dose = inv_logit(intercept + slope * log(d/80)) from",
                  "OncoBayes2's beta_group[new, ...] draws (for EXNEX these are the EX or NEX parameters",
                  "picked per draw by OncoBayes2 with the conditional EX probability); identical to",
                  "posterior_linpred(fit, transform = TRUE, newdata) and summary(fit, newdata)"),
    intervals = "right-closed as in OncoBayes2 summary(): (0,0.16], (0.16,0.33], (0.33,1]",
    quantiles = "type-7 (R default, as OncoBayes2's summary for non-predictive output)",
    mcse = "posterior package: mcse_mean / mcse_sd / mcse_quantile; interval probabilities: mcse_mean of the indicator draws",
    prob_exchangeable = paste("posterior P(EX) of the current trial = mean over draws of OncoBayes2's generated",
                              "quantity beta_EX_prob[new, comp] (the per-draw conditional probability that the",
                              "group is EX given all parameters, i.e. a Rao-Blackwellised estimate); MCSE by mcse_mean")
  ),
  scenarios = list()
)

for (nm in names(scenarios)) {
  sc <- scenarios[[nm]]
  message("fitting ", nm, " ...")
  f <- fit_scenario(sc)
  fit <- f$fit
  dr <- fit_draws(fit)
  vars <- posterior::variables(dr)
  pick <- function(pattern) {
    v <- grep(pattern, vars, value = TRUE)
    stopifnot(length(v) == 1)
    var_mat(dr, v)
  }
  ia <- pick("^beta_group\\[new,.*,intercept\\]$")
  sl <- pick("^beta_group\\[new,.*,slope\\]$")
  pd <- list(); ind <- list()
  for (k in seq_along(eval_doses)) {
    d <- eval_doses[k]
    p <- inv_logit(ia + sl * log(d / dref))
    pd[[sprintf("p_dlt_%g", d)]] <- p
    ind[[sprintf("i1_%g", d)]] <- (p > 0 & p <= 0.16) * 1
    ind[[sprintf("i2_%g", d)]] <- (p > 0.16 & p <= 0.33) * 1
    ind[[sprintf("i3_%g", d)]] <- (p > 0.33 & p <= 1) * 1
  }
  s_p <- summarise_full(make_draws(pd))
  s_i <- as.data.frame(posterior::summarise_draws(make_draws(ind), mean = mean, mcse_mean = mcse_mean, ess_mean = ess_mean))
  rownames(s_i) <- s_i$variable

  ## cross-check against OncoBayes2's own summary() on the same fit
  nd <- data.frame(group_id = factor("new", levels = c("hist", "new")), dose = eval_doses,
                   num_patients = 0, num_toxicities = 0)
  ob2 <- summary(fit, newdata = nd, interval_prob = interval_prob)
  ob2_pl <- posterior_linpred(fit, transform = TRUE, newdata = nd)

  per_dose <- list()
  for (k in seq_along(eval_doses)) {
    d <- eval_doses[k]; key <- sprintf("%g", d)
    sp <- s_p[[sprintf("p_dlt_%g", d)]]
    ip <- sapply(1:3, function(j) s_i[sprintf("i%d_%g", j, d), "mean"])
    im <- sapply(1:3, function(j) s_i[sprintf("i%d_%g", j, d), "mcse_mean"])
    ie <- sapply(1:3, function(j) s_i[sprintf("i%d_%g", j, d), "ess_mean"])
    per_dose[[key]] <- list(
      dose = d,
      p_dlt = sp,
      interval_prob = setNames(as.list(ip), interval_names),
      interval_prob_mcse = setNames(as.list(im), interval_names),
      interval_prob_ess = setNames(as.list(ie), interval_names),
      oncobayes2_summary = list(
        mean = ob2$mean[k], sd = ob2$sd[k],
        q2.5 = ob2[["2.5%"]][k], q50 = ob2[["50%"]][k], q97.5 = ob2[["97.5%"]][k],
        interval_prob = setNames(as.list(unlist(ob2[k, interval_names])), interval_names)
      )
    )
  }
  crosscheck <- list(
    max_abs_diff_mean_vs_summary = max(abs(sapply(per_dose, function(x) x$p_dlt$mean - x$oncobayes2_summary$mean))),
    max_abs_diff_interval_vs_summary = max(abs(unlist(lapply(per_dose, function(x)
      unlist(x$interval_prob) - unlist(x$oncobayes2_summary$interval_prob))))),
    max_abs_diff_mean_vs_posterior_linpred = max(abs(colMeans(ob2_pl) - sapply(per_dose, function(x) x$p_dlt$mean)))
  )

  exprob <- NULL
  vex <- grep("^beta_EX_prob\\[new,", vars, value = TRUE)
  if (length(vex) == 1) {
    e <- var_mat(dr, vex)
    es <- as.data.frame(posterior::summarise_draws(make_draws(list(ex = e)), mean = mean, mcse_mean = mcse_mean, ess_mean = ess_mean))
    exprob <- list(prior = unname(sc$ex_prob["new"]), posterior = es$mean, mcse = es$mcse_mean, ess = es$ess_mean,
                   variable = vex)
  }
  hyper <- summarise_full(make_draws(list(
    mu_log_alpha = pick("^mu_log_beta\\[.*,intercept\\]$"),
    mu_log_beta = pick("^mu_log_beta\\[.*,log_slope\\]$"),
    tau_alpha = pick("^tau_log_beta\\[.*,intercept\\]$"),
    tau_beta = pick("^tau_log_beta\\[.*,log_slope\\]$"),
    new_log_alpha = ia, new_log_beta = log(sl)
  )))

  result$scenarios[[nm]] <- list(
    model = if (sc$exnex) "EXNEX" else "MAC (EX only)",
    current_data = sc$data,
    current_trial = as.list(current[[sc$data]][, -1]),
    prior_EX_prob_comp = as.list(sc$ex_prob),
    prior_is_EXNEX_comp = sc$exnex,
    seed = sc$seed,
    run_seconds = f$seconds,
    sampler_diagnostics = sampler_diagnostics(fit),
    max_rhat_all_parameters = max(posterior::summarise_draws(dr, rhat = rhat)$rhat, na.rm = TRUE),
    prob_exchangeable_new = exprob,
    new_trial = per_dose,
    new_trial_parameters = list(log_alpha = hyper$new_log_alpha, log_beta = hyper$new_log_beta),
    hyper = list(mu_log_alpha = hyper$mu_log_alpha, mu_log_beta = hyper$mu_log_beta,
                 tau_alpha = hyper$tau_alpha, tau_beta = hyper$tau_beta),
    crosscheck_with_oncobayes2_summary = crosscheck
  )
  message(sprintf("%s: %.0f s, P(EX)=%s", nm, f$seconds, if (is.null(exprob)) "NA" else format(exprob$posterior)))
  for (k in names(per_dose)) {
    x <- per_dose[[k]]
    message(sprintf("  dose %6s: mean %.4f  P %.4f %.4f %.4f  (mcse %.4f %.4f %.4f)", k, x$p_dlt$mean,
                    x$interval_prob[[1]], x$interval_prob[[2]], x$interval_prob[[3]],
                    x$interval_prob_mcse[[1]], x$interval_prob_mcse[[2]], x$interval_prob_mcse[[3]]))
  }
  rm(fit, f, dr); gc()
}

out <- file.path(here, "exnex.json")
write_json_full(result, out)
message("wrote ", out)
