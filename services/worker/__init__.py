"""The Celery worker: tasks that move data between the domain services over gRPC."""
