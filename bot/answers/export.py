"""Approved answers as Markdown files in the knowledge documents' format (front matter, `## Hỏi đáp`)."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from bot import i18n
from bot.answers.service import AnswerRecord


def _question(text: str) -> str:
    text = " ".join(text.split())
    return text if text.endswith("?") else text + "?"


def to_markdown(record: AnswerRecord) -> str:
    """One document: front matter, the answer under the question, and the same pair as its `## Hỏi đáp`."""
    approved = record.approved_at.date() if record.approved_at else None
    meta = {
        "id": record.doc_id,
        "title": " ".join(record.question.split()),
        "topic": record.topic,
        "legal_basis": record.legal_basis,
        "effective_from": None,
        "effective_to": None,
        "last_reviewed": approved,
        "review_on": record.review_on,
        "approved_by": record.approved_by_name or (str(record.approved_by) if record.approved_by else ""),
        "language": "vi",
        "audience": "sme_owner",
    }
    head = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=1000).strip()
    month = f"{approved.month:02d}/{approved.year}" if approved else "?"
    answer = record.answer.strip()
    question = _question(record.question)
    return (
        f"---\n{head}\n---\n# {meta['title']}\n\n{answer}\n\n"
        f"{i18n.t('vi', 'answers.export_source', source=i18n.t('vi', 'answers.expert_source', month=month))}\n\n"
        f"## Hỏi đáp\n\n### {question}\n\n{answer}\n"
    )


def export(records: list[AnswerRecord], folder: Path) -> list[Path]:
    """Write `FOLDER/<topic>/answer-<id>.md` for each record (the knowledge folder's layout); returns the paths."""
    written = []
    for record in records:
        path = folder / record.topic / f"{record.doc_id}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(to_markdown(record), encoding="utf-8")
        os.replace(tmp, path)
        written.append(path)
    return written
