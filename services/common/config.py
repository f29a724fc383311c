"""Configuration from environment variables (prefix ``FOOTCDS_``) with sane local defaults."""

from __future__ import annotations

from functools import cache
from typing import Literal

from pydantic import Field
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
    result_ttl_seconds: int = Field(default=3600, ge=60)
    assess_default_timeout_seconds: float = Field(default=10.0, gt=0)
    stage_timeout_seconds: float = Field(default=5.0, gt=0)
    task_max_retries: int = Field(default=3, ge=0)
    # "chain": one Celery task per stage; "pipeline": one task calling the four services.
    assess_mode: Literal["chain", "pipeline"] = "chain"

    server_workers: int = Field(default=32, ge=1)
    max_message_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    grace_seconds: float = Field(default=5.0, ge=0)
    log_level: str = "INFO"


@cache
def settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
