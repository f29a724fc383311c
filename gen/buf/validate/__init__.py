"""Generated from protos/buf/validate by `make protos`."""
