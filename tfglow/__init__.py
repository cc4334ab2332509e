"""tfglow: Glow training, evaluation, export and few-shot tools built on tfp_flows."""
