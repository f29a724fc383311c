"""Configuration from environment variables (prefix ``FOOTCDS_``) with sane local defaults."""

from __future__ import annotations

from functools import cache
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the suite. ``FOOTCDS_<NAME>`` overrides ``<name>``."""

    model_config = SettingsConfigDict(env_prefix="FOOTCDS_", extra="ignore")

    bind_host: str = "127.0.0.1"
    encounter_port: int = 50050
    intake_port: int = 50051
    differential_port: int = 50052
    workup_port: int = 50053
    treatment_port: int = 50054

    intake_addr: str = "127.0.0.1:50051"
    differential_addr: str = "127.0.0.1:50052"
    workup_addr: str = "127.0.0.1:50053"
    treatment_addr: str = "127.0.0.1:50054"
    encounter_addr: str = "127.0.0.1:50050"

    redis_url: str = "redis://127.0.0.1:6379/0"
    # Redis behind Sentinel (deploy/k8s): redis_url lists the sentinels as sentinel://host:port
    # entries separated by ";" and this names the monitored master (services/platform/redis_client.py).
    redis_sentinel_master: str = ""
    redis_sentinel_password: str = ""  # when the sentinels themselves require a password
    # Client-side load balancing over every address a name resolves to (headless Services,
    # scaled compose services): gRPC keeps one connection per channel, so "pick_first" would pin
    # each client to one replica.
    grpc_lb_policy: Literal["round_robin", "pick_first"] = "round_robin"
    result_ttl_seconds: int = Field(default=3600, ge=60)
    # Budgets (issue 11, services.platform.deadlines): a call without a deadline gets the default
    # (streams their own), and no caller's deadline counts for more than the maximum.
    default_deadline_seconds: float = Field(default=10.0, gt=0)
    default_stream_deadline_seconds: float = Field(default=3600.0, gt=0)
    max_deadline_seconds: float = Field(default=6 * 3600.0, gt=0)
    stage_timeout_seconds: float = Field(default=5.0, gt=0)
    task_max_retries: int = Field(default=3, ge=0)
    # "pipeline": one Celery task calling the four services; "direct": the encounter calls
    # the four services over gRPC, no queue.  "pipeline" is the fastest shape that keeps Assess
    # on Celery; "chain" (a task per stage) was dropped (measured: docs/performance.md).
    assess_mode: Literal["pipeline", "direct"] = "pipeline"
    # The Assess task calls work-up and treatment at once (two threads) only while at most this
    # many Assess tasks run in its worker process; busier, one after the other on the task's own
    # thread: the other tasks keep the services busy meanwhile, and the hand-off to a second
    # thread cost ~10 context switches and ~0.2-0.35 ms of worker CPU per assessment
    # (docs/performance.md, thirteenth pass).  0: always one after the other.
    assess_parallel_max_running: int = Field(default=2, ge=0)

    @field_validator("assess_mode", mode="before")
    @classmethod
    def _no_chain(cls, value: object) -> object:
        if value == "chain":
            raise ValueError(
                "FOOTCDS_ASSESS_MODE=chain was removed (a Celery task per stage was 2x slower "
                "than one pipeline task; docs/performance.md): use 'pipeline' or 'direct'"
            )
        return value

    # Team screening (issue 5): results expire; the chunk size was chosen by measurement
    # (README "Team screening"); a chunk's gRPC calls get their own, longer cap.
    screening_ttl_seconds: int = Field(default=86400, ge=60)
    screening_max_athletes: int = Field(default=50000, ge=1)
    screening_chunk_size: int = Field(default=250, ge=1, le=5000)
    screening_call_timeout_seconds: float = Field(default=60.0, gt=0)
    # Chunks one worker process screens at once: a threads-pool worker (the Assess pool,
    # docs/performance.md fifth pass) would otherwise hold one chunk per thread in one process.
    screening_chunks_per_worker: int = Field(default=2, ge=1)
    # Broker: an unacknowledged task of a killed worker is re-queued after this long.
    visibility_timeout_seconds: int = Field(default=300, ge=1)
    unacked_restore_interval_seconds: int = Field(default=10, ge=1)

    server_workers: int = Field(default=32, ge=1)
    max_message_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    grace_seconds: float = Field(default=5.0, ge=0)
    log_level: str = "INFO"

    # Trust (issue 6; README "Security"). Credentials come from files or the environment,
    # never from the repository. "off" is for debugging only: every caller is "anonymous".
    auth_mode: Literal["on", "off"] = "on"
    tokens_file: str = ""  # JSON/YAML: sha256(token) -> {client_id, scopes}; re-read when it changes
    tokens: str = ""  # the same document inline (containers without a secrets file)
    service_token: str = ""  # the identity the worker presents to the domain services
    service_token_file: str = ""
    token: str = ""  # the CLI's bearer token (FOOTCDS_TOKEN)
    tls_cert: str = ""  # server certificate (PEM file); set => every gRPC port is TLS
    tls_key: str = ""
    tls_ca: str = ""  # CA that signed the servers (clients) and the client certificates (servers)
    tls_client_auth: Literal["none", "require"] = "none"  # "require" = mutual TLS
    tls_client_cert: str = ""  # the certificate a client (worker, CLI) presents under mTLS
    tls_client_key: str = ""
    max_concurrent_per_client: int = Field(default=16, ge=1)
    metrics_port: int = Field(default=0, ge=0)  # /metrics over HTTP; 0 = off
    audit_stream: str = "footcds:audit"
    audit_max_records: int = Field(default=1_000_000, ge=100)
    audit_retention_days: float = Field(default=365, ge=0)  # 0 = bounded by audit_max_records only

    # The HTTP gateway (issue 12; README "Clinic tablets"): tablet page, FHIR SDC, CDS Hooks.
    gateway_port: int = Field(default=8080, ge=0, le=65535)
    gateway_call_timeout_seconds: float = Field(default=10.0, gt=0)  # deadline of each suite call
    gateway_intake_ttl_seconds: int = Field(default=86400, ge=60)  # completed intakes kept this long
    gateway_max_questions: int = Field(default=30, ge=1, le=200)  # an interview stops after this many
    gateway_idle_seconds: int = Field(default=120, ge=10)  # the tablet page resets after this much idle time
    gateway_secure_cookies: bool = False  # set behind TLS: device and staff cookies get Secure

    # CDS Hooks 2.0 (issue 13; README "EHR integration: CDS Hooks"). Trusted EHRs: a JSON object
    # {issuer (the JWT's iss): its JWKS URL}. Only these issuers' signed JWTs are accepted.
    cds_trusted_issuers: dict[str, str] = Field(default_factory=dict)
    cds_trusted_issuers_file: str = ""  # the same JSON in a file, re-read when it changes (add/remove an EHR live)
    # The public base URL the EHR calls (the JWT's aud is this + /cds-services/{id}); empty = the
    # URL the request arrived on (right without a proxy in front).
    cds_base_url: str = ""
    cds_jwt_max_lifetime_seconds: int = Field(default=300, ge=10)  # the spec: exp at most 5 min after iat
    cds_jwt_leeway_seconds: int = Field(default=30, ge=0)  # clock skew allowed on exp/iat
    cds_jwks_cache_seconds: int = Field(default=300, ge=0)  # keys kept this long (a new kid refetches)
    cds_fhir_timeout_seconds: float = Field(default=3.0, gt=0)  # each read from the EHR's fhirServer
    cds_card_ttl_seconds: int = Field(default=7 * 86400, ge=60)  # cards kept for feedback and the link


@cache
def settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
