"""Code every FootCDS service shares: configuration, logging, the server bootstrap, errors,
the clinical domain types and their protobuf conversions."""
