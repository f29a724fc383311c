"""`python -m services.gateway`: the HTTP gateway on FOOTCDS_BIND_HOST:FOOTCDS_GATEWAY_PORT."""

from __future__ import annotations

import uvicorn

from services.gateway.app import create_app
from services.platform.config import settings
from services.platform.logging import configure_logging


def main() -> None:
    cfg = settings()
    log = configure_logging("gateway", cfg.log_level)
    log.info("starting", extra={"port": cfg.gateway_port})
    # No access log: paths carry no patient data, but one line per tablet tap is noise.
    uvicorn.run(create_app(cfg), host=cfg.bind_host, port=cfg.gateway_port, log_config=None,
                access_log=False, timeout_graceful_shutdown=int(cfg.grace_seconds) or None)


if __name__ == "__main__":
    main()
