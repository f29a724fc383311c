"""One way to reach Redis, plain or through Sentinel, for every FootCDS process.

Why one place: with Sentinel the master can move, so a client must ask the sentinels where
it is instead of dialing a fixed address. Celery (broker and result backend) does this itself
from a ``sentinel://`` URL plus ``master_name``; the audit log and the screening store use
redis-py's ``Sentinel.master_for``, which re-discovers the master after a failover. Redis
Cluster is not an option: Celery's Redis broker needs multi-key operations on one node.

FOOTCDS_REDIS_URL takes either ``redis://[:password@]host:port/db`` or, with
FOOTCDS_REDIS_SENTINEL_MASTER set, ``sentinel://[:password@]host:port/db;sentinel://...`` (the
Celery form, one entry per sentinel; the password is the master's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import redis
import redis.asyncio as aioredis
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.sentinel import Sentinel

from services.platform.config import Settings, settings


@dataclass(frozen=True, slots=True)
class SentinelTarget:
    hosts: tuple[tuple[str, int], ...]
    password: str | None
    db: int


def parse_sentinel_url(url: str) -> SentinelTarget:
    """``sentinel://:pw@h1:26379/0;sentinel://:pw@h2:26379/0`` -> hosts, password, db."""
    hosts: list[tuple[str, int]] = []
    password: str | None = None
    db = 0
    for part in filter(None, (p.strip() for p in url.split(";"))):
        split = urlsplit(part)
        if split.scheme != "sentinel" or not split.hostname:
            raise ValueError(f"FOOTCDS_REDIS_URL: {part!r} is not a sentinel://host:port URL")
        hosts.append((split.hostname, split.port or 26379))
        password = unquote(split.password) if split.password else password
        db = int(split.path.strip("/") or db)
    if not hosts:
        raise ValueError("FOOTCDS_REDIS_URL: no sentinel given")
    return SentinelTarget(tuple(hosts), password, db)


def redis_client(cfg: Settings | None = None, **options: Any) -> redis.Redis:
    """A synchronous client to the current master; ``options`` are redis-py socket options."""
    cfg = cfg or settings()
    if not cfg.redis_sentinel_master:
        return redis.Redis.from_url(cfg.redis_url, **options)
    target = parse_sentinel_url(cfg.redis_url)
    sentinel_options: dict[str, Any] = {"socket_connect_timeout": options.get("socket_connect_timeout", 2)}
    if cfg.redis_sentinel_password:
        sentinel_options["password"] = cfg.redis_sentinel_password
    sentinel = Sentinel(list(target.hosts), sentinel_kwargs=sentinel_options, **options)  # type: ignore[no-untyped-call]
    client: redis.Redis = sentinel.master_for(  # type: ignore[no-untyped-call]
        cfg.redis_sentinel_master, db=target.db, password=target.password
    )
    return client


def async_redis_client(cfg: Settings | None = None, **options: Any) -> aioredis.Redis:
    """The asyncio twin of ``redis_client`` (the HTTP gateway)."""
    cfg = cfg or settings()
    if not cfg.redis_sentinel_master:
        plain: aioredis.Redis = aioredis.Redis.from_url(cfg.redis_url, **options)
        return plain
    target = parse_sentinel_url(cfg.redis_url)
    sentinel_options: dict[str, Any] = {"socket_connect_timeout": options.get("socket_connect_timeout", 2)}
    if cfg.redis_sentinel_password:
        sentinel_options["password"] = cfg.redis_sentinel_password
    sentinel = AsyncSentinel(list(target.hosts), sentinel_kwargs=sentinel_options, **options)  # type: ignore[no-untyped-call]
    client: aioredis.Redis = sentinel.master_for(cfg.redis_sentinel_master, db=target.db, password=target.password)
    return client


def celery_transport_options(cfg: Settings | None = None) -> dict[str, Any]:
    """What Celery's broker and result backend need to follow a Sentinel master."""
    cfg = cfg or settings()
    if not cfg.redis_sentinel_master:
        return {}
    options: dict[str, Any] = {"master_name": cfg.redis_sentinel_master}
    if cfg.redis_sentinel_password:
        options["sentinel_kwargs"] = {"password": cfg.redis_sentinel_password}
    return options
