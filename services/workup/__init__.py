"""The work-up service: tests chosen by their value, post-test re-ranking."""
