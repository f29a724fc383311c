"""`make bench`: FootCDS's figures beside the frameworks' own ceilings (docs/performance.md)."""

# First, before NumPy: one BLAS thread, as every FootCDS process has (services/__init__.py).
# Aliased: ``bench.services`` is this package's own module of that name.
import services as _footcds  # noqa: F401
