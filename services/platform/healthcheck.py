"""`python -m services.platform.healthcheck HOST:PORT [SERVICE]`: exit 0 when SERVING.

Used by docker-compose healthchecks and by `make run` before it says "ready".
"""

from __future__ import annotations

import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def check(
    address: str, service: str = "", timeout: float = 2.0, credentials: grpc.ChannelCredentials | None = None
) -> bool:
    """Health needs no token, but a TLS port needs TLS (and mTLS a client certificate):
    ``credentials``, else those configured by FOOTCDS_TLS_* (see services.platform.tls)."""
    from services.platform.tls import dial

    with dial(address, credentials=credentials) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def main(argv: list[str]) -> int:
    if not 1 <= len(argv) <= 2:
        print("usage: python -m services.platform.healthcheck HOST:PORT [SERVICE]", file=sys.stderr)
        return 2
    ok = check(argv[0], argv[1] if len(argv) > 1 else "")
    print("SERVING" if ok else "NOT_SERVING")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
