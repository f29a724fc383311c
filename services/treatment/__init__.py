"""The treatment service: staged plans merged across the leading conditions."""
