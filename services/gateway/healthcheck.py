"""`python -m services.gateway.healthcheck [URL]`: exit 0 when the gateway's /healthz is 200.

For docker-compose healthchecks (the image has no curl); the default URL is this container's
gateway on FOOTCDS_GATEWAY_PORT.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

from services.platform.config import settings


def main(argv: list[str]) -> int:
    url = argv[0] if argv else f"http://127.0.0.1:{settings().gateway_port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=4) as reply:
            ok = reply.status == 200
    except (OSError, urllib.error.URLError):
        ok = False
    print("SERVING" if ok else "NOT_SERVING")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
