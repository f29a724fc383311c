"""The HTTP edge of the suite (ASGI): the tablet intake, FHIR SDC ``$next-question``, and the
place CDS Hooks plugs in. It holds no clinical logic: every decision comes from the suite over
gRPC (services/gateway/suite_client.py)."""
