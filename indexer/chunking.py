"""Heading-aware chunking: each chunk keeps its section path and the document's fields."""

from __future__ import annotations

from dataclasses import dataclass

from langchain_text_splitters import MarkdownHeaderTextSplitter, RecursiveCharacterTextSplitter

from indexer.textnorm import nfc

CHUNKER_VERSION = "3"  # bump when loading or chunking changes: forces a rebuild (3: limits on hostile files)
CHUNK_CHARS = 1100
OVERLAP_CHARS = 150
HEADING_CHARS = 300  # a section path is shown in citations: a heading line of a hostile file is cut to this
_HEADERS = [("#", "h1"), ("##", "h2"), ("###", "h3"), ("####", "h4")]


@dataclass
class Chunk:
    text: str  # the section body shown to users and quoted in answers
    section: str  # "Heading > Sub-heading"; empty for the text under the title
    index: int

    def embedding_text(self, title: str) -> str:
        head = f"{title} — {self.section}" if self.section else title
        return f"{head}\n{self.text}"


def split(text: str, title: str) -> list[Chunk]:
    """Split Markdown-like text at headings, then long sections by paragraphs and sentences."""
    by_heading = MarkdownHeaderTextSplitter(_HEADERS, strip_headers=True).split_text(nfc(text))
    sizer = RecursiveCharacterTextSplitter(
        chunk_size=CHUNK_CHARS,
        chunk_overlap=OVERLAP_CHARS,
        separators=["\n\n", "\n", ". ", "; ", ", ", " ", ""],
    )
    chunks: list[Chunk] = []
    for part in by_heading:
        body = part.page_content.strip()
        if not body:
            continue
        heads = [_cut(part.metadata[k].strip()) for _, k in _HEADERS if part.metadata.get(k)]
        if heads and heads[0].strip().lower() == title.strip().lower():
            heads = heads[1:]
        section = " > ".join(heads)
        for piece in sizer.split_text(body):
            if piece.strip():
                chunks.append(Chunk(text=piece.strip(), section=section, index=len(chunks)))
    return chunks


def _cut(heading: str) -> str:
    # The same cut as a title taken from a heading (loaders), so the title heading is still recognised.
    return heading if len(heading) <= HEADING_CHARS else heading[: HEADING_CHARS - 1].rstrip() + "…"
