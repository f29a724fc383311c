"""FootCDS services: one package per gRPC service plus shared code.

One BLAS thread per process unless the operator sets another count: every FootCDS process
already works in parallel on its own (gRPC and Celery thread pools, several processes on few
cores), so OpenBLAS's own threads only wait and spin - a roster chunk's ranking took 0.40 ms
of CPU per athlete with two BLAS threads and 0.23 ms with one, the same answers
(docs/performance.md, sixth pass (p6rank)).  Set here because OpenBLAS reads the variable once, when
NumPy is first imported, and FootCDS code imports this package before NumPy.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
