"""Turn a knowledge file into NFC Markdown-like text plus its front-matter fields."""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from indexer.config import TOPICS
from indexer.textnorm import fold, nfc

SUPPORTED = {".md", ".markdown", ".txt", ".pdf", ".docx", ".html", ".htm"}
FIELDS = (
    "id",
    "title",
    "topic",
    "legal_basis",
    "effective_from",
    "effective_to",
    "last_reviewed",
    "source_urls",
    "language",
    "audience",
)


class LoadError(Exception):
    """A file that cannot be indexed; the message is shown to staff as the reason."""


@dataclass
class LoadedDocument:
    text: str
    meta: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "-", fold(text)).strip("-") or "doc"


def default_id(rel_path: Path) -> str:
    parts = [slug(p) for p in rel_path.with_suffix("").parts]
    return "-".join(parts)


def _as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()[:10]
    if isinstance(value, (list, tuple)):
        return "; ".join(_as_text(v) for v in value if v not in (None, ""))
    return nfc(str(value)).strip()


def _check_date(meta: dict[str, str], key: str) -> None:
    if meta.get(key):
        try:
            dt.date.fromisoformat(meta[key])
        except ValueError as exc:
            raise LoadError(f"{key} is not a date (YYYY-MM-DD): {meta[key]!r}") from exc


def _markdown(data: bytes) -> tuple[str, dict]:
    import frontmatter
    import yaml

    try:
        post = frontmatter.loads(_decode(data))
    except yaml.YAMLError as exc:
        raise LoadError(f"front matter is not valid YAML: {str(exc).splitlines()[0]}") from exc
    return post.content, dict(post.metadata)


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "utf-16"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" not in text:
            return text
    raise LoadError("not a UTF-8 text file")


def _pdf(data: bytes) -> tuple[str, dict]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise LoadError("the PDF is password-protected")
        pages = [page.extract_text() or "" for page in reader.pages]
        title = (reader.metadata.title if reader.metadata else None) or ""
    except LoadError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise LoadError(f"unreadable PDF ({type(exc).__name__}: {exc})") from exc
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    if not text.strip():
        raise LoadError("the PDF has no extractable text (scanned image?)")
    return text, {"title": title} if title else {}


def _docx(data: bytes) -> tuple[str, dict]:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, ValueError, KeyError, OSError) as exc:
        raise LoadError(f"unreadable DOCX ({type(exc).__name__})") from exc
    except Exception as exc:  # zipfile.BadZipFile and lxml errors have no common base
        raise LoadError(f"unreadable DOCX ({type(exc).__name__})") from exc
    lines: list[str] = []
    for para in document.paragraphs:
        text = para.text.strip()
        if not text:
            continue
        style = (para.style.name or "").lower() if para.style is not None else ""
        match = re.match(r"heading (\d)", style)
        if style == "title":
            lines.append(f"# {text}")
        elif match:
            lines.append("#" * min(int(match.group(1)) + 1, 4) + " " + text)
        else:
            lines.append(text)
    for table in document.tables:
        for row in table.rows:
            lines.append(" | ".join(cell.text.strip() for cell in row.cells))
    title = document.core_properties.title or ""
    return "\n\n".join(lines), {"title": title} if title else {}


def _html(data: bytes) -> tuple[str, dict]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(data, "html.parser")
    for tag in soup(["script", "style", "nav", "footer", "header", "noscript"]):
        tag.decompose()
    title = soup.title.get_text(strip=True) if soup.title else ""
    lines: list[str] = []
    body = soup.body or soup
    for el in body.find_all(["h1", "h2", "h3", "h4", "p", "li", "td", "pre"]):
        text = " ".join(el.get_text(" ", strip=True).split())
        if not text:
            continue
        if el.name in ("h1", "h2", "h3", "h4"):
            lines.append("#" * int(el.name[1]) + " " + text)
        elif el.name == "li":
            lines.append(f"- {text}")
        else:
            lines.append(text)
    return "\n\n".join(lines), {"title": title} if title else {}


def load(path: Path, root: Path, data: bytes | None = None) -> LoadedDocument:
    """Load one file; raise LoadError with a human-readable reason when it cannot be indexed."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise LoadError(f"unsupported file type {suffix or '(none)'}")
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise LoadError(f"cannot read the file ({exc.strerror or exc})") from exc
    if not data.strip():
        raise LoadError("the file is empty")
    if suffix in (".md", ".markdown"):
        text, raw = _markdown(data)
    elif suffix == ".txt":
        text, raw = _decode(data), {}
    elif suffix == ".pdf":
        text, raw = _pdf(data)
    elif suffix == ".docx":
        text, raw = _docx(data)
    else:
        text, raw = _html(data)
    text = nfc(text).replace("\r\n", "\n").strip()
    if len(fold(text).strip()) < 20:
        raise LoadError("the file has no usable text")
    return LoadedDocument(text=text, **_metadata(raw, text, path, root))


def _metadata(raw: dict, text: str, path: Path, root: Path) -> dict:
    rel = path.relative_to(root)
    meta = {key: _as_text(raw.get(key)) for key in FIELDS}
    warnings: list[str] = []
    meta["id"] = slug(meta["id"]) if meta["id"] else default_id(rel)
    if not meta["title"]:
        heading = re.search(r"^#\s+(.+)$", text, re.MULTILINE)
        meta["title"] = heading.group(1).strip() if heading else path.stem.replace("_", " ")
    folder = rel.parts[0] if len(rel.parts) > 1 else ""
    if not meta["topic"]:
        meta["topic"] = folder if folder in TOPICS else "other"
    elif meta["topic"] not in TOPICS:
        warnings.append(f"unknown topic {meta['topic']!r}, using 'other'")
        meta["topic"] = "other"
    for key in ("effective_from", "effective_to", "last_reviewed"):
        _check_date(meta, key)
    meta["language"] = meta["language"] or "vi"
    meta["audience"] = meta["audience"] or "sme_owner"
    meta["path"] = rel.as_posix()
    return {"meta": meta, "warnings": warnings}
