"""The `footcds` command line."""
