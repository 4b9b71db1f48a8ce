"""Every document in knowledge/ is well-formed, and the development set points at real documents."""

import datetime as dt
import json
from pathlib import Path

import frontmatter
import pytest

from indexer.config import TOPICS
from indexer.pipeline import scan
from indexer.textnorm import fold, nfc
from tests.conftest import DATA, ROOT

KB = ROOT / "knowledge"
LEGAL_TOPICS = {"ip", "tech_transfer", "funding", "startup"}
DOCS = [p for p in scan(KB) if p.suffix == ".md"]


def _load(path: Path):
    return frontmatter.load(path)


def test_enough_documents():
    assert len(DOCS) >= 45


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(KB)))
def test_document_is_valid(path):
    post = _load(path)
    meta = post.metadata
    for key in ("id", "title", "topic", "last_reviewed", "language", "audience"):
        assert meta.get(key), f"{key} missing"
    assert meta["topic"] in TOPICS
    for key in ("effective_from", "effective_to", "last_reviewed"):
        if meta.get(key):
            assert isinstance(meta[key], dt.date) or dt.date.fromisoformat(str(meta[key]))
    if meta["topic"] in LEGAL_TOPICS:
        assert meta.get("legal_basis") and meta.get("effective_from"), (
            "legal documents need legal_basis and effective_from"
        )
    if meta.get("effective_to"):
        assert meta["effective_to"] >= meta["effective_from"]
    words = len(post.content.split())
    assert 300 <= words <= 1500, f"{words} words"
    text = path.read_text(encoding="utf-8")
    assert text == nfc(text), "text must be NFC"


def test_ids_are_unique():
    ids = [str(_load(p).metadata["id"]) for p in DOCS]
    assert len(ids) == len(set(ids))


def test_dev_set_points_at_real_documents():
    ids = {str(_load(p).metadata["id"]): p for p in DOCS}
    rows = [
        json.loads(line) for line in (DATA / "qa_dev.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    assert len(rows) >= 80
    assert len({r["id"] for r in rows}) == len(rows)
    in_scope = [r for r in rows if r.get("doc_ids")]
    no_accents = [r for r in in_scope if not r["diacritics"]]
    assert len(no_accents) >= len(in_scope) / 3 - 1
    assert any(r.get("history") for r in rows) and any(r["lang"] == "en" for r in rows)
    assert any(r.get("out_of_scope") for r in rows)
    for row in in_scope:
        for doc_id in row["doc_ids"]:
            assert doc_id in ids, f"{row['id']}: unknown document {doc_id}"
        body = fold(_load(ids[row["doc_ids"][0]]).content)
        assert fold(row["key_fact"]) in body, f"{row['id']}: key fact not in {row['doc_ids'][0]}"


# Instruments domain-facts.md marks as replaced, and what replaced them. A document that names one must name its
# successor too (or be a superseded document, with `effective_to`), so the bot never presents an old rule as current.
REPLACED = {
    r"13/2019/NĐ-CP": "268/2025/NĐ-CP",
    r"04/2021/QĐ-TTg": "77/2026/NĐ-CP",
    r"39/2018/NĐ-CP": "80/2021/NĐ-CP",
    r"80/2006/QH11": "07/2017/QH14",
    r"29/2013/QH13": "93/2025/QH15",
}


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(KB)))
def test_legal_documents_say_where_their_facts_come_from(path):
    meta = _load(path).metadata
    if meta["topic"] in LEGAL_TOPICS:
        urls = meta.get("source_urls") or []
        assert urls and all(str(u).startswith(("http://", "https://")) for u in urls), "source_urls missing"


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(KB)))
def test_a_replaced_instrument_is_never_presented_alone(path):
    post = _load(path)
    text = post.content + " " + str(post.metadata.get("legal_basis") or "")
    for old, new in REPLACED.items():
        if old in text and not post.metadata.get("effective_to"):
            assert new in text, f"names {old} (replaced) without {new}"


def _qa_section(content: str) -> str:
    _head, _, rest = content.partition("\n## Hỏi đáp")
    return rest.split("\n## ", 1)[0] if rest else ""


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(KB)))
def test_every_document_answers_owners_questions_directly(path):
    """The `## Hỏi đáp` contract (design.md): 3-8 `###` questions, each with a short answer."""
    section = _qa_section(_load(path).content)
    assert section, "no ## Hỏi đáp section"
    entries = [e for e in section.split("\n### ")[1:]]
    assert 3 <= len(entries) <= 8, f"{len(entries)} questions"
    for entry in entries:
        question, _, answer = entry.partition("\n")
        assert question.strip().endswith("?"), question
        answer = answer.strip()
        assert answer and len(answer) <= 600, f"{question}: answer of {len(answer)} characters"


def test_enough_documents_for_what_owners_ask():
    assert len(DOCS) >= 92
