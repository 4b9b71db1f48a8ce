"""The bot's settings: the indexer's, plus Telegram, the LLM, webhook mode, the web console, handoff and reports.

Read once at start (`load_settings`), validated there: a bad value stops the program with a message that names
the variable, instead of failing later in a handler. Secrets are `SecretStr`, so they never print or log.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import NoDecode

from indexer.config import IndexerSettings

# LangChain's init_chat_model providers; each needs its integration package (langchain-openai ships).
LLM_PROVIDERS = frozenset(
    {
        "openai",
        "azure_openai",
        "anthropic",
        "ollama",
        "google_genai",
        "google_vertexai",
        "mistralai",
        "groq",
        "deepseek",
        "fireworks",
        "together",
        "huggingface",
        "bedrock",
        "bedrock_converse",
        "xai",
        "perplexity",
        "nvidia",
        "ibm",
        "cohere",
    }
)
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")  # what Telegram accepts as a webhook secret_token


class Settings(IndexerSettings):
    """Every setting of the bot; names are the contract in design.md."""

    telegram_bot_token: SecretStr = SecretStr("")
    telegram_api_url: str = "https://api.telegram.org"
    consultants_chat_id: int | None = None
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)

    # database_url (DATABASE_URL) is in IndexerSettings: the indexer takes its re-index lock there.

    llm_provider: str = ""
    llm_model: str = ""
    llm_base_url: str = ""
    llm_api_key: SecretStr = SecretStr("")
    llm_timeout_seconds: float = Field(default=20.0, gt=0, le=600)

    webhook_url: str = ""
    webhook_secret: SecretStr = SecretStr("")
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = Field(default=8443, ge=1, le=65535)

    web_host: str = "127.0.0.1"  # the staff web console (`python -m bot web`); behind a proxy for HTTPS
    web_port: int = Field(default=8080, ge=1, le=65535)
    web_base_url: str = ""  # the console's address in login links; empty: http://WEB_HOST:WEB_PORT

    rate_limit_per_minute: int = Field(default=12, ge=1, le=10_000)
    telegram_messages_per_second: int = Field(default=30, ge=1, le=100_000)  # Telegram's limit across all chats
    working_hours: str = "08:00-17:00"
    working_days: str = "1-5"
    timezone: str = "Asia/Ho_Chi_Minh"
    reannounce_minutes: float = Field(default=30, gt=0)  # fractions allowed (0.05 = 3 s, for tests)
    handoff_response_minutes: int = Field(default=60, ge=1)
    export_secret: SecretStr = SecretStr("")
    needs_rules_file: Path | None = None  # empty: the shipped bot/needs/rules.yaml

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]
            bad = [part for part in parts if not re.fullmatch(r"-?\d{1,20}", part)]
            if bad:
                raise ValueError(f"Telegram user ids are numbers separated by commas; not a number: {bad[0]!r}")
            return [int(part) for part in parts]
        if isinstance(value, int):
            return [value]
        return value

    @field_validator("needs_rules_file", mode="before")
    @classmethod
    def _empty_path_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("consultants_chat_id", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (for example Asia/Ho_Chi_Minh)") from exc
        return value

    @field_validator("web_host")
    @classmethod
    def _host(cls, value: str) -> str:
        value = value.strip()
        if not value or not re.fullmatch(r"[A-Za-z0-9.:\-\[\]]{1,253}", value):
            raise ValueError(f"a host name or IP address to listen on, such as 127.0.0.1; not {value!r}")
        return value

    @field_validator("web_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value:
            parsed = urlparse(value)
            if parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.query or parsed.fragment:
                raise ValueError(
                    f"an http:// or https:// address without query, such as https://kb.example.vn; not {value!r}"
                )
        return value

    @field_validator("llm_provider")
    @classmethod
    def _known_provider(cls, value: str) -> str:
        value = value.strip().lower()
        if value and value not in LLM_PROVIDERS:
            raise ValueError(f"unknown LLM provider {value!r}; one of: {', '.join(sorted(LLM_PROVIDERS))}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        from bot.handoff.hours import WorkingHours

        try:
            WorkingHours.parse(self.working_hours, self.working_days, self.timezone)
        except ValueError as exc:
            raise ValueError(
                f"WORKING_HOURS must look like 08:00-17:00 and WORKING_DAYS like 1-5 or 1,3,5 (1 = Monday): {exc}"
            ) from exc
        if self.webhook_url:
            secret = self.webhook_secret.get_secret_value()
            if not secret:
                raise ValueError("WEBHOOK_URL is set but WEBHOOK_SECRET is empty: anyone could post forged updates")
            if not _SECRET_TOKEN.fullmatch(secret):
                raise ValueError("WEBHOOK_SECRET may hold 1-256 characters A-Z, a-z, 0-9, _ and - only")
        if not self.web_base_url:
            host = self.web_host
            if host in ("0.0.0.0", "::"):  # listening everywhere: links name this machine
                host = "127.0.0.1"
            elif ":" in host and not host.startswith("["):
                host = f"[{host}]"
            self.web_base_url = f"http://{host}:{self.web_port}"
        if bool(self.llm_provider) != bool(self.llm_model):
            raise ValueError("set both LLM_PROVIDER and LLM_MODEL, or neither (extractive answers)")
        return self

    @property
    def token(self) -> str:
        return self.telegram_bot_token.get_secret_value()

    @property
    def sqlalchemy_url(self) -> str:
        """DATABASE_URL, or the SQLite file under DATA_DIR (bot.storage.Store picks the PostgreSQL driver)."""
        if url := self.database_url.get_secret_value().strip():
            return url
        return f"sqlite:///{(self.data_dir / 'bot.sqlite3').resolve()}"

    @property
    def llm_enabled(self) -> bool:
        return bool(self.llm_provider and self.llm_model)


class SettingsError(Exception):
    """Settings that cannot run; the message names each variable and what is wrong."""


def load_settings(**overrides: object) -> Settings:
    """Build the bot's settings at start (never at import); raise SettingsError with a readable message."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]).upper()
            message = str(error["msg"]).removeprefix("Value error, ")
            lines.append(f"- {where}: {message}" if where else f"- {message}")
        raise SettingsError("the settings cannot be used:\n" + "\n".join(lines)) from None
