"""Settings, read once at start from EADRCC_* variables and DATABASE_URL."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs
from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    """One folder per user, so every command finds the same database from any directory."""
    return Path(platformdirs.user_data_dir("eadrcc", appauthor=False)) / "pgdata"


class ConfigError(Exception):
    """A setting has a value the hub cannot start with."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EADRCC_", extra="ignore", frozen=True)

    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "EADRCC_DATABASE_URL")
    )
    # Where the embedded PostgreSQL keeps its files when DATABASE_URL is unset.
    data_dir: Path = Field(default_factory=default_data_dir)
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    pool_min_size: int = Field(default=2, ge=0, le=100)
    pool_max_size: int = Field(default=10, ge=1, le=500)
    log_level: str = "info"
    # auto: readable lines on a terminal, JSON lines otherwise (files, journald, CI).
    log_format: str = "auto"
    event_retention_days: int = Field(default=7, ge=1)
    # A slow poll behind LISTEN/NOTIFY, so a lost notification delays but never loses.
    event_poll_seconds: float = Field(default=2.0, gt=0, le=60)
    signature_window_seconds: int = Field(default=300, ge=1)
    # Alerts an integration may post per minute (per instance), and the burst above it.
    alert_rate_per_minute: float = Field(default=600, gt=0)
    alert_burst: float = Field(default=60, ge=1)
    # Events a socket may have waiting before it is cut off as too slow (code 4008).
    ws_queue_bound: int = Field(default=2000, ge=10, le=1_000_000)
    # {"type": "heartbeat"} on every socket this often: consoles show
    # the link stale after 15 s without one, so keep it well under that.
    ws_heartbeat_seconds: float = Field(default=5.0, gt=0)
    # A websocket ping (dead-peer check) this often; a live socket silent for a whole
    # interval after one is dropped. One timer pings all live sockets (events/lean.py).
    ws_ping_seconds: float = Field(default=30.0, gt=0)
    ws_hello_timeout_seconds: float = Field(default=10.0, gt=0)
    # Read deadlines (readtimeouts.py): a request head must arrive within this many
    # seconds of its first byte (or of the connection's start), a body within this
    # many seconds of its head; else 408 and the connection is closed.
    header_timeout_seconds: float = Field(default=10.0, gt=0, le=3600)
    body_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    # Resolved tokens kept per instance, forgotten whenever its hub reads a `token.`
    # event (revocation, rotation); 0 = off: one lookup per request.
    token_cache_size: int = Field(default=10_000, ge=0, le=1_000_000)
    # ...and each is trusted this long at most, whatever happens to the hub's reading:
    # the bound on how long a revoked token or replaced secret can still be accepted.
    token_cache_seconds: float = Field(default=1.0, gt=0, le=60)
    # Alert feeds, polled by one instance at a time; unset = off (closed networks).
    gdacs_url: str | None = None
    usgs_url: str | None = None
    # At least 5 s in production; the lower bound lets tests poll fast.
    feed_interval_seconds: float = Field(default=300.0, ge=0.05, le=86_400)
    feed_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    feed_max_backoff_seconds: float = Field(default=3600.0, gt=0)
    feed_max_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    # Declared capacities: the nation is reminded this many days before valid_until;
    # due reminders are swept this often (one instance at a time).
    capacity_reminder_days: int = Field(default=30, ge=1, le=365)
    capacity_sweep_seconds: float = Field(default=60.0, ge=0.05, le=86_400)
    # Alerts sent longer ago than this are stored but open no watch (stale).
    alert_max_age_hours: float = Field(default=72.0, gt=0, le=24 * 365 * 100)
    # Circulation: an unanswered nation is reminded, then reported to staff as overdue.
    # Fractions of a minute are allowed so that tests can run the whole cycle quickly.
    ack_reminder_minutes: float = Field(default=120.0, gt=0)
    ack_escalate_minutes: float = Field(default=360.0, gt=0)
    # How often the instance holding the scheduler lock looks for due reminders.
    scheduler_interval_seconds: float = Field(default=15.0, ge=0.05, le=3600)
    # Outbound delivery (webhooks and e-mail). The first retry waits
    # delivery_min_backoff_seconds (jittered), doubling up to the maximum.
    delivery_min_backoff_seconds: float = Field(default=1.0, gt=0, le=3600)
    delivery_max_backoff_seconds: float = Field(default=3600.0, gt=0)
    delivery_give_up_hours: float = Field(default=72.0, gt=0)
    delivery_connect_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    delivery_timeout_seconds: float = Field(default=15.0, gt=0, le=300)
    # A dead instance's subscriptions are taken over once its lease runs out.
    delivery_lease_seconds: float = Field(default=20.0, ge=0.5, le=300)
    delivery_log_retention_days: int = Field(default=30, ge=1)
    webhook_allow_hosts: str = ""
    smtp_url: str | None = None
    mail_from: str = "eadrcc@localhost"
    mail_batch_seconds: float = Field(default=60.0, ge=0, le=86_400)
    sitrep_hour_utc: int = Field(default=17, ge=0, le=23)
    # Inbound documents (CAP, EDXL-RM, feeds) from this size up are read in worker
    # processes, each within parse_seconds of processor time (past it: 422, and the
    # worker is replaced; a worker starved of processor is cut off at 6x by the clock).
    # 0 workers = always inline (the loop waits on every document).
    parse_workers: int = Field(default_factory=lambda: min(2, os.cpu_count() or 1), ge=0, le=64)
    parse_seconds: float = Field(default=5.0, gt=0, le=600)
    parse_inline_below_bytes: int = Field(default=16 * 1024, ge=0)

    @property
    def allowed_webhook_hosts(self) -> frozenset[str]:
        return frozenset(
            h.strip().lower() for h in self.webhook_allow_hosts.split(",") if h.strip()
        )

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("smtp://", "smtps://")):
            raise ValueError("must be an smtp:// or smtps:// URL")
        return value

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        if not value.startswith(("postgres://", "postgresql://")):
            raise ValueError("must be a postgresql:// URL")
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        value = value.lower()
        if value not in {"debug", "info", "warning", "error"}:
            raise ValueError("must be one of debug, info, warning, error")
        return value

    @field_validator("log_format")
    @classmethod
    def _format(cls, value: str) -> str:
        if value not in {"auto", "json", "console"}:
            raise ValueError("must be auto, json or console")
        return value

    @field_validator("gdacs_url", "usgs_url")
    @classmethod
    def _feed_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value


def load_settings(**overrides: object) -> Settings:
    """Read the environment; a bad value stops start-up with a message naming it."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(f"{_env_name(err['loc'])}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"invalid configuration: {problems}") from None


def _env_name(loc: tuple[int | str, ...]) -> str:
    field = str(loc[0]) if loc else "?"
    return "DATABASE_URL" if field == "DATABASE_URL" else f"EADRCC_{field.upper()}"
