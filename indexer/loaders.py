"""Turn a knowledge file into NFC Markdown-like text plus its front-matter fields.

Every file may be hostile (a zip bomb, YAML aliases, a corrupt PDF, millions of tags), so each reader checks
what a file will cost before parsing it, and bounds text and time while reading it (`Limits`); a file over a
limit raises LoadError with the reason staff see, and the indexer moves it to quarantine.
"""

from __future__ import annotations

import datetime as dt
import io
import posixpath
import re
import time
import zipfile
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from indexer.config import TOPICS, IndexerSettings
from indexer.textnorm import fold, nfc

SUPPORTED = {".md", ".markdown", ".txt", ".pdf", ".docx", ".html", ".htm"}
FIELDS = (
    "id",
    "title",
    "topic",
    "legal_basis",
    "effective_from",
    "effective_to",
    "replaces",  # doc ids of the superseded rules this one replaced: answers then say when the rule changed
    "last_reviewed",
    "source_urls",
    "language",
    "audience",
)
MB = 1024 * 1024
FRONT_MATTER_CHARS = 20_000  # a real header is under 3 KB; this only keeps the YAML parser's work small
FRONT_MATTER_DEPTH = 10  # nesting levels in front matter (real ones use 2: a list of strings)
ID_CHARS = 200  # a document id ends up in every chunk id and in staff messages
ZIP_MEMBERS = 5000  # a Word file has a few dozen parts
RATIO_FLOOR = MB  # smaller zip members cannot hurt, whatever their compression ratio
HTML_TAGS = 200_000  # html.parser builds one Python object per tag: refuse before building millions


class LoadError(Exception):
    """A file that cannot be indexed; the message is shown to staff as the reason.

    `code` names the kind of fault (the bot words it for staff from `admin.load_<code>`, with `params`);
    `quarantine` is False for faults that cost nothing to retry or may mend themselves (an unsupported type,
    an empty file that may still be being written, a read error), so the indexer leaves those files in place.
    """

    def __init__(self, reason: str, code: str = "unreadable", quarantine: bool = True, **params: object) -> None:
        super().__init__(reason)
        self.code = code
        self.quarantine = quarantine
        self.params = params

    def __reduce__(self):
        # Raised in the reading worker (indexer/worker.py) and re-raised here: keep code, quarantine and params.
        return (_load_error, (str(self), self.code, self.quarantine, self.params))


def _load_error(reason: str, code: str, quarantine: bool, params: dict) -> LoadError:
    return LoadError(reason, code, quarantine, **params)


@dataclass(frozen=True)
class Limits:
    """What reading one document may cost; the defaults and their reasons are in IndexerSettings."""

    max_file_bytes: int
    max_unpacked_bytes: int
    max_zip_ratio: float
    max_text_chars: int
    max_pdf_pages: int
    max_title_chars: int
    max_field_chars: int
    max_extract_seconds: float
    max_memory_bytes: int = 1536 * MB

    @classmethod
    def from_settings(cls, settings: IndexerSettings) -> Limits:
        return cls(
            max_file_bytes=int(settings.max_file_mb * MB),
            max_unpacked_bytes=int(settings.max_unpacked_mb * MB),
            max_zip_ratio=settings.max_zip_ratio,
            max_text_chars=settings.max_text_chars,
            max_pdf_pages=settings.max_pdf_pages,
            max_title_chars=settings.max_title_chars,
            max_field_chars=settings.max_field_chars,
            max_extract_seconds=settings.max_extract_seconds,
            max_memory_bytes=int(settings.max_extract_memory_mb * MB),
        )


# The defaults of IndexerSettings (model_construct reads no environment, so nothing is read at import).
DEFAULT_LIMITS = Limits.from_settings(IndexerSettings.model_construct())


@dataclass
class LoadedDocument:
    text: str
    meta: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _mb(size: float) -> str:
    return f"{size / MB:.1f} MB"


def too_large(limits: Limits) -> LoadError:
    limit = f"{limits.max_file_bytes / MB:g} MB"
    return LoadError(f"file is larger than {limit}", "too_large", limit=limit)


class _Budget:
    """Text taken and time spent while reading one document, checked as the reading goes (not after)."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.chars = 0
        self.deadline = time.monotonic() + limits.max_extract_seconds

    def add(self, text: str) -> str:
        self.chars += len(text)
        if self.chars > self.limits.max_text_chars:
            limit = self.limits.max_text_chars
            raise LoadError(f"the text is longer than {limit} characters", "text_too_long", limit=limit)
        return text

    def block(self) -> None:
        """One more paragraph or table: counted as its separator, so a million empty ones are stopped too."""
        self.add("\n\n")
        self.tick()

    def tick(self) -> None:
        # Cooperative: checked between pages and paragraphs. The checks before parsing are what bound a
        # single step; this stops a file that is slow everywhere.
        if time.monotonic() > self.deadline:
            seconds = f"{self.limits.max_extract_seconds:g}"
            raise LoadError(f"reading the file took longer than {seconds} s", "too_slow", seconds=seconds)


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
            raise LoadError(
                f"{key} is not a date (YYYY-MM-DD): {meta[key][:40]!r}", "date", field=key, value=meta[key][:40]
            ) from exc


# -- Markdown front matter -------------------------------------------------------------------------------


class _FrontMatterRefused(yaml.YAMLError):
    def __init__(self, reason: str, code: str) -> None:
        super().__init__(reason)
        self.code = code


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases and anchors, and deep nesting, as it composes.

    Aliases are how 326 bytes of YAML expand to megabytes ("billion laughs"); no document header needs
    them, so they are refused outright rather than counted.
    """

    def __init__(self, stream) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _FrontMatterRefused("front matter uses YAML aliases or anchors (& or *), which are refused", "alias")
        self._depth += 1
        if self._depth > FRONT_MATTER_DEPTH:
            raise _FrontMatterRefused(f"front matter is nested deeper than {FRONT_MATTER_DEPTH} levels", "front_matter")
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _front_matter_handler():
    from frontmatter.default_handlers import YAMLHandler

    class StrictYAML(YAMLHandler):
        def load(self, fm: str, **kwargs: object):
            if len(fm) > FRONT_MATTER_CHARS:
                raise _FrontMatterRefused(
                    f"front matter is longer than {FRONT_MATTER_CHARS} characters", "front_matter"
                )
            return yaml.load(fm, Loader=_StrictLoader)  # a SafeLoader subclass: no Python objects

    return StrictYAML()


def _markdown(data: bytes) -> tuple[str, dict]:
    import frontmatter

    text = _decode(data)
    handler = _front_matter_handler()
    try:
        # YAML front matter always goes through the strict loader: detected on the stripped text, as the
        # library does, so leading blank lines cannot route it to the stock loader. Other formats (JSON)
        # keep the library's detection.
        post = frontmatter.loads(text, handler=handler if handler.detect(text.strip()) else None)
    except _FrontMatterRefused as exc:
        raise LoadError(str(exc), "front_matter_alias" if exc.code == "alias" else "front_matter") from exc
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise LoadError(f"front matter is not valid YAML: {first}", "front_matter") from exc
    except Exception as exc:  # a constructor's ValueError (e.g. an integer of 5000 digits) or JSON errors
        raise LoadError(f"front matter cannot be read ({type(exc).__name__})", "front_matter") from exc
    metadata = post.metadata if isinstance(post.metadata, dict) else {}
    return post.content, dict(metadata)


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "utf-16"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" not in text:
            return text
    raise LoadError("not a UTF-8 text file", "encoding")


# -- PDF -----------------------------------------------------------------------------------------------------


def _pdf(data: bytes, limits: Limits, budget: _Budget) -> tuple[str, dict]:
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise LoadError("the PDF is password-protected", "encrypted")
        _check_page_count(reader, limits)
        pages: list[str] = []
        unpacked = 0
        for page in reader.pages:
            budget.tick()
            # The decoded content stream is what text extraction walks: bound its size before extracting.
            contents = page.get_contents()
            unpacked += len(contents.get_data()) if contents is not None else 0
            if unpacked > limits.max_unpacked_bytes:
                raise _unpacked_error("PDF", unpacked, limits)
            text = (page.extract_text() or "").strip()
            if text:
                pages.append(budget.add(text))
        title = (reader.metadata.title if reader.metadata else None) or ""
    except LoadError:
        raise
    except Exception as exc:  # a corrupt PDF raises anything from KeyError to RecursionError
        raise LoadError(f"unreadable PDF ({type(exc).__name__}: {str(exc)[:160]})", "corrupt", kind="PDF") from exc
    text = "\n\n".join(pages)
    if not text.strip():
        raise LoadError("the PDF has no extractable text (scanned image?)", "scanned")
    return text, {"title": str(title)} if title else {}


def _check_page_count(reader, limits: Limits) -> None:
    """Refuse by the page tree's declared count first (cheap), then by the pages actually found."""
    try:
        declared = int(reader.trailer["/Root"]["/Pages"].get("/Count", 0))
    except (KeyError, TypeError, ValueError, AttributeError):
        declared = 0
    for count in (declared, len(reader.pages)):
        if count > limits.max_pdf_pages:
            raise LoadError(
                f"the PDF has {count} pages (limit {limits.max_pdf_pages})",
                "too_many_pages",
                pages=count,
                limit=limits.max_pdf_pages,
            )


def _unpacked_error(kind: str, size: int, limits: Limits) -> LoadError:
    limit = f"{limits.max_unpacked_bytes / MB:g} MB"
    return LoadError(
        f"the {kind} unpacks to more than {limit} ({_mb(size)}); refused as a possible decompression bomb",
        "bomb",
        kind=kind,
        size=_mb(size),
        limit=limit,
    )


# -- DOCX ----------------------------------------------------------------------------------------------------

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
_DC_TITLE = "{http://purl.org/dc/elements/1.1/}title"


def open_zip(data: bytes, limits: Limits, kind: str) -> zipfile.ZipFile:
    """Open an Office (zip) container after checking its directory: member count, total and ratio.

    The sizes come from the zip's central directory, before anything is decompressed. They cannot lie to
    us: zipfile stops each member at its declared size (and fails its CRC), so these checks bound memory.
    """
    archive = zipfile.ZipFile(io.BytesIO(data))
    try:
        members = archive.infolist()
        if len(members) > ZIP_MEMBERS:
            raise LoadError(
                f"the {kind} holds {len(members)} parts (limit {ZIP_MEMBERS})",
                "zip_parts",
                kind=kind,
                parts=len(members),
                limit=ZIP_MEMBERS,
            )
        total = sum(info.file_size for info in members)
        if total > limits.max_unpacked_bytes:
            raise _unpacked_error(kind, total, limits)
        for info in members:
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > RATIO_FLOOR and ratio > limits.max_zip_ratio:
                raise LoadError(
                    f"a part of the {kind} is compressed {ratio:.0f}:1 (limit {limits.max_zip_ratio:g}:1); "
                    "refused as a possible zip bomb",
                    "zip_ratio",
                    kind=kind,
                    ratio=f"{ratio:.0f}",
                    limit=f"{limits.max_zip_ratio:g}",
                )
    except BaseException:
        archive.close()
        raise
    return archive


def _xml_events(archive: zipfile.ZipFile, name: str, tags: tuple[str, ...]):
    """Stream one part's elements (end events): never a whole tree, no entities, no DTD, no network."""
    from lxml import etree

    with archive.open(name) as stream:
        yield from etree.iterparse(
            stream,
            events=("end",),
            tag=tags,
            resolve_entities=False,
            load_dtd=False,
            no_network=True,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )


def _rels(archive: zipfile.ZipFile, part: str) -> dict[str, str]:
    """Relationship type suffix -> target part name, for a part ('' for the package)."""
    folder, base = posixpath.split(part)
    rels_name = posixpath.join(folder, "_rels", f"{base}.rels")
    if rels_name not in archive.NameToInfo:
        return {}
    out: dict[str, str] = {}
    for _, el in _xml_events(archive, rels_name, (_REL,)):
        kind, target = el.get("Type", ""), el.get("Target", "")
        if target and el.get("TargetMode") != "External":
            resolved = target.lstrip("/") if target.startswith("/") else posixpath.join(folder, target)
            out.setdefault(kind.rsplit("/", 1)[-1], posixpath.normpath(resolved))
        el.clear()
    return out


def _docx_styles(archive: zipfile.ZipFile, name: str | None) -> dict[str, str]:
    """Paragraph style id -> lower-case style name ('heading 1', 'title')."""
    if not name or name not in archive.NameToInfo:
        return {}
    styles: dict[str, str] = {}
    for _, el in _xml_events(archive, name, (W + "style",)):
        label = el.find(W + "name")
        if el.get(W + "type") == "paragraph" and label is not None:
            styles[el.get(W + "styleId", "")] = (label.get(W + "val") or "").lower()
        el.clear()
    return styles


def _docx_title(archive: zipfile.ZipFile, name: str | None) -> str:
    if not name or name not in archive.NameToInfo:
        return ""
    with closing(_xml_events(archive, name, (_DC_TITLE,))) as events:  # closes the part when stopping early
        for _, el in events:
            return (el.text or "").strip()
    return ""


_T, _R, _P, _TBL, _TR, _TC = (W + n for n in ("t", "r", "p", "tbl", "tr", "tc"))
_TABS = {W + "tab", W + "ptab"}
_BR, _CR, _HYPHEN, _HYPERLINK = W + "br", W + "cr", W + "noBreakHyphen", W + "hyperlink"
_PPR, _PSTYLE, _VAL, _TYPE = W + "pPr", W + "pStyle", W + "val", W + "type"
_HEADING = re.compile(r"heading (\d)")


def _run_text(run) -> str:
    """A run's text as python-docx gives it: tabs, line breaks and non-breaking hyphens included."""
    out = []
    for child in run:
        tag = child.tag
        if tag == _T:
            out.append(child.text or "")
        elif tag in _TABS:
            out.append("\t")
        elif tag == _CR or (tag == _BR and child.get(_TYPE) in (None, "textWrapping")):
            out.append("\n")
        elif tag == _HYPHEN:
            out.append("-")
    return "".join(out)


def _para_text(p) -> str:
    out = []
    for child in p:
        if child.tag == _R:
            out.append(_run_text(child))
        elif child.tag == _HYPERLINK:
            out.extend(_run_text(r) for r in child.iterchildren(_R))
    return "".join(out)


def _para_line(p, styles: dict[str, str]) -> str:
    text = _para_text(p).strip()
    if not text:
        return ""
    style = ""
    if p[0].tag == _PPR:  # pPr, when present, is the first child
        ref = p[0].find(_PSTYLE)
        style = styles.get(ref.get(_VAL, ""), "") if ref is not None else ""
    if not style:
        return text
    if style == "title":
        return f"# {text}"
    match = _HEADING.match(style)
    return "#" * min(int(match.group(1)) + 1, 4) + " " + text if match else text


def _table_lines(tbl) -> list[str]:
    lines = []
    for row in tbl.iterchildren(_TR):
        cells = ["\n".join(_para_text(p) for p in tc.iterchildren(_P)).strip() for tc in row.iterchildren(_TC)]
        if any(cells):
            lines.append(" | ".join(cells))
    return lines


def _docx(data: bytes, limits: Limits, budget: _Budget) -> tuple[str, dict]:
    """Paragraphs in order (headings from styles), then tables, as python-docx gave them before.

    Read with lxml's streaming parser rather than python-docx: python-docx builds the whole tree and took
    over two minutes on 18 MB of one-word paragraphs; streaming keeps one top-level block in memory and
    lets the text and time limits stop the reading part-way.
    """
    try:
        archive = open_zip(data, limits, "DOCX")
    except LoadError:
        raise
    except Exception as exc:  # zipfile.BadZipFile, NotImplementedError, struct.error …
        raise LoadError(f"unreadable DOCX ({type(exc).__name__})", "corrupt", kind="DOCX") from exc
    try:
        with archive:
            package = _rels(archive, "")
            main = package.get("officeDocument")
            if not main or main not in archive.NameToInfo:
                raise LoadError("unreadable DOCX (not a Word document)", "corrupt", kind="DOCX")
            styles = _docx_styles(archive, _rels(archive, main).get("styles"))
            title = _docx_title(archive, package.get("core-properties"))
            lines: list[str] = []
            tables: list[str] = []
            word = False
            body = W + "body"
            for _, el in _xml_events(archive, main, (_P, _TBL, W + "document")):
                parent = el.getparent()
                if parent is None:
                    word = el.tag == W + "document"
                    continue
                if parent.tag != body:
                    continue  # a paragraph inside a table or text box: read with its block
                budget.block()
                if el.tag == _P:
                    line = _para_line(el, styles)
                    if line:
                        lines.append(budget.add(line))
                else:
                    tables.extend(budget.add(line) for line in _table_lines(el))
                # Free what was read: the block itself and the blocks before it.
                el.clear()
                while el.getprevious() is not None:
                    del parent[0]
            if not word:  # e.g. a spreadsheet renamed .docx: its main part is not a w:document
                raise LoadError("unreadable DOCX (not a Word document)", "corrupt", kind="DOCX")
    except LoadError:
        raise
    except Exception as exc:  # lxml, zipfile and CRC errors have no common base
        raise LoadError(f"unreadable DOCX ({type(exc).__name__})", "corrupt", kind="DOCX") from exc
    return "\n\n".join(lines + tables), {"title": title} if title else {}


# -- HTML ----------------------------------------------------------------------------------------------------


def _html(data: bytes, budget: _Budget) -> tuple[str, dict]:
    from bs4 import BeautifulSoup

    tags = data.count(b"<")
    if tags > HTML_TAGS:
        raise LoadError(f"the HTML has over {HTML_TAGS} tags ({tags})", "too_many_tags", limit=HTML_TAGS)
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
            lines.append(budget.add("#" * int(el.name[1]) + " " + text))
        elif el.name == "li":
            lines.append(budget.add(f"- {text}"))
        else:
            lines.append(budget.add(text))
    return "\n\n".join(lines), {"title": title} if title else {}


# -- entry point -----------------------------------------------------------------------------------------------


def load(path: Path, root: Path, data: bytes | None = None, limits: Limits | None = None) -> LoadedDocument:
    """Load one file; raise LoadError with a human-readable reason when it cannot be indexed."""
    limits = limits or DEFAULT_LIMITS
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise LoadError(f"unsupported file type {suffix or '(none)'}", "type", quarantine=False)
    if data is None:
        try:
            if path.stat().st_size > limits.max_file_bytes:
                raise too_large(limits)
            data = path.read_bytes()
        except OSError as exc:
            raise LoadError(f"cannot read the file ({exc.strerror or exc})", "read", quarantine=False) from exc
    if len(data) > limits.max_file_bytes:
        raise too_large(limits)
    if not data.strip():
        raise LoadError("the file is empty", "empty", quarantine=False)
    budget = _Budget(limits)
    if suffix in (".md", ".markdown"):
        text, raw = _markdown(data)
    elif suffix == ".txt":
        text, raw = _decode(data), {}
    elif suffix == ".pdf":
        text, raw = _pdf(data, limits, budget)
    elif suffix == ".docx":
        text, raw = _docx(data, limits, budget)
    else:
        text, raw = _html(data, budget)
    if suffix in (".md", ".markdown", ".txt"):
        budget.add(text)  # plain text is decoded whole (at most MAX_FILE_MB), then measured once
    text = nfc(text).replace("\r\n", "\n").strip()
    if len(fold(text).strip()) < 20:
        raise LoadError("the file has no usable text", "no_text")
    return LoadedDocument(text=text, **_metadata(raw, text, path, root, limits, strict=suffix in (".md", ".markdown")))


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _metadata(raw: dict, text: str, path: Path, root: Path, limits: Limits, strict: bool) -> dict:
    """Fields from front matter (strict: over-long values are refused) or from the file (cut to size)."""
    rel = path.relative_to(root)
    meta = {key: _as_text(raw.get(key)) for key in FIELDS}
    for key, value in meta.items():
        limit = {"title": limits.max_title_chars, "id": ID_CHARS}.get(key, limits.max_field_chars)
        if len(value) <= limit:
            continue
        if not strict:
            meta[key] = _cut(value, limit)
            continue
        raise LoadError(
            f"front matter {key} is {len(value)} characters long (limit {limit})",
            "front_matter_field",
            field=key,
            limit=limit,
        )
    warnings: list[str] = []
    meta["id"] = slug(meta["id"]) if meta["id"] else default_id(rel)
    if not meta["title"]:
        heading = re.search(r"^#\s+(.+)$", text, re.MULTILINE)
        meta["title"] = heading.group(1).strip() if heading else path.stem.replace("_", " ")
        meta["title"] = _cut(meta["title"], limits.max_title_chars)
    folder = rel.parts[0] if len(rel.parts) > 1 else ""
    if not meta["topic"]:
        meta["topic"] = folder if folder in TOPICS else "other"
    elif meta["topic"] not in TOPICS:
        warnings.append(f"unknown topic {meta['topic'][:40]!r}, using 'other'")
        meta["topic"] = "other"
    for key in ("effective_from", "effective_to", "last_reviewed"):
        _check_date(meta, key)
    meta["language"] = meta["language"] or "vi"
    meta["audience"] = meta["audience"] or "sme_owner"
    meta["path"] = rel.as_posix()
    return {"meta": meta, "warnings": warnings}
