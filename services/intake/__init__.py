"""The intake service: validates and normalizes an intake, detects red flags."""
