"""The differential service: Bayesian ranking, explanation, triage, next best question."""
