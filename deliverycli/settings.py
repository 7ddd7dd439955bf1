"""Settings: defaults < TOML file < DELIVERYCLI_* environment variables < command-line options."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

APP_NAME = "deliverycli"


def config_path() -> Path:
    """The TOML settings file: $DELIVERYCLI_CONFIG, else the platform's config folder."""
    explicit = os.environ.get("DELIVERYCLI_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def default_db() -> str:
    return str(Path(platformdirs.user_data_dir(APP_NAME)) / "deliverycli.db")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DELIVERYCLI_", extra="ignore", validate_default=True)

    db: str = Field(default_factory=default_db, description="database file path or URL")
    currency: str = Field("KRW", description="ISO 4217 currency of prices (integer minor units); must match the database's")
    payment_gateway: Literal["simulated", "http"] = Field(
        "simulated", description="payment provider: the simulated one in process, or the HTTP one at payment_url"
    )
    payment_url: str | None = Field(
        None, pattern=r"^https?://[^\s/]+", max_length=2000,
        description="payment provider's base URL, e.g. http://127.0.0.1:9000 (for payment_gateway = \"http\")",
    )
    payment_api_key: SecretStr | None = Field(
        None, description="the payment provider's API key, as `payment-provider serve` printed it (for payment_gateway = \"http\")",
    )
    payment_timeout_s: float = Field(3.0, gt=0, le=120, description="timeout of one payment call")
    payment_failure_rate: float = Field(0.0, ge=0, le=1, description="simulated gateway: share of charges that fail")
    payment_latency_ms: int = Field(0, ge=0, le=120_000, description="simulated gateway: latency of every call")
    payment_seed: int = Field(0, description="simulated gateway: seed of the injected failures")
    breaker_fail_max: int = Field(5, ge=1, le=1000, description="consecutive payment failures that open the breaker")
    breaker_reset_timeout_s: float = Field(30.0, gt=0, le=3600, description="cool-down before the breaker half-opens")
    retry_max_attempts: int = Field(5, ge=1, le=100, description="attempts before a failing event is parked as a dead letter")
    retry_backoff_s: float = Field(0.05, ge=0, le=60, description="first retry delay, doubled each attempt")
    busy_timeout_s: float = Field(5.0, gt=0, le=600, description="how long to wait for another writer's lock")
    connect_timeout_s: float = Field(5.0, gt=0, le=600, description="PostgreSQL: how long to wait for the server to accept a connection")
    statement_timeout_s: float = Field(120.0, gt=0, le=86_400, description="PostgreSQL: how long one statement may run before the server cancels it")
    accept_timeout_s: float = Field(
        600.0, ge=0, le=30 * 86_400, description="deadline: a paid order the store has not accepted this long is rejected and refunded (0: never)"
    )
    pickup_alert_s: float = Field(
        900.0, ge=0, le=30 * 86_400, description="deadline: a ready order no rider has picked up this long alerts the store and operations (0: never)"
    )
    confirm_timeout_s: float = Field(
        86_400.0, ge=0, le=365 * 86_400, description="deadline: a delivered order the customer has not confirmed this long is confirmed (0: never)"
    )
    server_ready_max_lag: int = Field(1000, ge=0, le=10**9, description="serve: /readyz answers 503 while a subscriber lags more events than this")
    server_metrics_loopback: bool = Field(False, description="serve: /metrics without a token for requests from this machine (else an ops token)")
    server_sse_poll_s: float = Field(0.2, gt=0, le=10, description="serve: how often /events looks for events committed by any process")
    server_threads: int = Field(8, ge=1, le=200, description="serve: threads per worker running the engine's blocking calls")
    server_bench_route: bool = Field(False, description="serve: add GET /bench/constant, a route that only returns a constant (benchmarks)")
    server_webhooks: bool = Field(True, description="serve: send webhooks from a background thread (as `webhooks deliver` does)")
    webhook_timeout_s: float = Field(5.0, gt=0, le=120, description="webhooks: timeout of one HTTP attempt (connect, and each read or write)")
    webhook_retry_attempts: int = Field(8, ge=1, le=100, description="webhooks: attempts per event before it is parked as a dead letter")
    webhook_retry_timeout_s: float = Field(300.0, gt=0, le=86_400, description="webhooks: time per event, retries included, before it is parked")
    webhook_retry_wait_initial_s: float = Field(0.5, ge=0, le=3600, description="webhooks: first wait between attempts, doubled each time")
    webhook_retry_wait_max_s: float = Field(30.0, ge=0, le=3600, description="webhooks: longest wait between attempts")
    webhook_retry_wait_jitter_s: float = Field(1.0, ge=0, le=3600, description="webhooks: random extra wait, up to this, added to each")
    webhook_lease_s: float = Field(
        120.0, gt=0, le=86_400,
        description="webhooks: how long a sender's claim on an endpoint lasts unrenewed (a killed sender is replaced after it)",
    )
    webhook_poll_s: float = Field(0.5, gt=0, le=60, description="webhooks: how often an idle sender looks for new events")

    @field_validator("currency")
    @classmethod
    def _iso_4217(cls, value: str) -> str:
        from .engine.errors import InvalidInput
        from .engine.validation import check_currency

        try:
            return check_currency(value)
        except InvalidInput as exc:
            raise ValueError(exc.message) from None

    @model_validator(mode="after")
    def _http_gateway_has_a_url(self) -> Settings:
        if self.payment_gateway == "http" and not self.payment_url:
            raise ValueError('payment_gateway = "http" needs payment_url (e.g. http://127.0.0.1:9000)')
        if self.payment_gateway == "http" and not self.payment_api_key:
            raise ValueError('payment_gateway = "http" needs payment_api_key (the key `payment-provider serve` printed)')
        return self

    @model_validator(mode="after")
    def _webhook_lease_outlasts_an_attempt(self) -> Settings:
        gap = self.webhook_timeout_s + self.webhook_retry_wait_max_s + self.webhook_retry_wait_jitter_s
        if self.webhook_lease_s <= 2 * gap:
            raise ValueError(
                f"webhook_lease_s ({self.webhook_lease_s:g}) must exceed twice webhook_timeout_s + webhook_retry_wait_max_s + "
                f"webhook_retry_wait_jitter_s ({2 * gap:g}): a sender renews it at every attempt"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, CheckedTomlSource(settings_cls, config_path()))


class CheckedTomlSource(TomlConfigSettingsSource):
    """The TOML settings file, refusing what would otherwise be ignored without a word: a folder
    given as the file, and keys no setting has (a typo would silently keep the default)."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path) -> None:
        from .engine.errors import InvalidInput

        if path.is_dir():
            raise InvalidInput(f"the settings file {path} is a folder; DELIVERYCLI_CONFIG must name a TOML file", field="config")
        super().__init__(settings_cls, toml_file=path)
        unknown = sorted(set(self.toml_data) - set(settings_cls.model_fields))
        if unknown:
            raise InvalidInput(f"unknown setting(s) in {path}: " + "; ".join(_did_you_mean(key) for key in unknown), field="config")


def _did_you_mean(key: str) -> str:
    import difflib

    near = difflib.get_close_matches(key, list(Settings.model_fields), n=1)
    return f"{key!r} (did you mean {near[0]!r}?)" if near else f"{key!r} (settings: {', '.join(Settings.model_fields)})"


def load_settings(**overrides: Any) -> Settings:
    """Settings with the given overrides (None means "not given"). Raises InvalidInput on bad values."""
    from pydantic import ValidationError

    from .engine.errors import InvalidInput

    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)
    except InvalidInput:
        raise
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors())
        raise InvalidInput(f"invalid settings ({problems}); check {config_path()} and DELIVERYCLI_* variables") from None
    except Exception as exc:  # a malformed TOML file
        raise InvalidInput(f"cannot read settings file {config_path()}: {exc}") from None


def describe_settings(settings: Settings, cli_given: set[str]) -> list[dict[str, Any]]:
    """Each setting with its value and where it came from."""
    import tomllib

    path = config_path()
    from_file: dict[str, Any] = {}
    if path.exists():
        with path.open("rb") as fh:
            from_file = tomllib.load(fh)
    rows = []
    for name, field in Settings.model_fields.items():
        env_name = f"DELIVERYCLI_{name.upper()}"
        if name in cli_given:
            source = "command line"
        elif env_name in os.environ:
            source = f"environment ({env_name})"
        elif name in from_file:
            source = f"file ({path})"
        else:
            source = "default"
        rows.append({"id": name, "value": getattr(settings, name), "source": source, "description": field.description})
    return rows
