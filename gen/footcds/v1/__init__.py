"""Generated from protos/footcds/v1 by `make protos`; do not edit."""
