"""Developer tools, outside ``services/``: the local suite launcher and the certificate tool.

Nothing under ``services/`` imports them; tests, benchmarks and ``make run``/``make certs`` do.
"""
