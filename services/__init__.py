"""FootCDS services: one package per gRPC service plus shared code."""
