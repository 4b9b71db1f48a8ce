"""Curated answers: `## Hỏi đáp` sections and approved answers, matched question to question with the real model."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil

import pytest

from bot.answering.curated import CuratedAnswers, from_chunks, from_document, question_of
from bot.answering.engine import AnswerEngine
from bot.answers.models import CuratedAnswer
from bot.answers.service import AnswerError, AnswerService, parse_id, review_date
from bot.cli import main as cli_main
from bot.config import Settings
from bot.storage import Store
from indexer import loaders
from indexer.pipeline import Indexer
from indexer.search import HybridSearcher
from tests.conftest import SAMPLE_KB

RENEWAL = """---
id: ip-renewal-qa
title: "Gia hạn nhãn hiệu: hỏi nhanh"
topic: ip
legal_basis: "Luật Sở hữu trí tuệ 2005 (sửa đổi 2022, 2025), Điều 93"
effective_from: 2026-04-01
last_reviewed: 2026-11-20
language: vi
audience: sme_owner
---
# Gia hạn nhãn hiệu: hỏi nhanh

Giấy chứng nhận đăng ký nhãn hiệu có hiệu lực 10 năm kể từ ngày nộp đơn và được gia hạn nhiều lần.

## Nộp yêu cầu gia hạn

Chủ nhãn hiệu nộp yêu cầu gia hạn tại Cục Sở hữu trí tuệ trong 6 tháng trước ngày hết hiệu lực.

## Hỏi đáp

### Logo công ty đã đăng ký được gia hạn tối đa bao nhiêu lần?

Không giới hạn số lần. Mỗi lần gia hạn thêm 10 năm (Điều 93), chỉ cần nộp yêu cầu và lệ phí đúng hạn.

### Nộp gia hạn nhãn hiệu trễ 3 tháng thì phải trả thêm bao nhiêu?

Thêm 10% lệ phí gia hạn cho mỗi tháng nộp muộn, tức khoảng 30% nếu trễ 3 tháng.

### Câu hỏi có tiểu mục?

#### Tiểu mục

Một câu trả lời có tiểu mục không phải câu trả lời ngắn.
"""

FIVE_S = """---
id: process-5s-qa
title: "5S: hỏi nhanh"
topic: process
last_reviewed: 2026-11-20
language: vi
audience: sme_owner
---
# 5S: hỏi nhanh

5S gồm Sàng lọc, Sắp xếp, Sạch sẽ, Săn sóc và Sẵn sàng; áp dụng được cho xưởng nhỏ.

## Hỏi đáp

### Xưởng 10 người có áp dụng 5S được không?

Được. 5S không cần vốn lớn: bắt đầu từ một khu vực, chụp ảnh trước và sau, duy trì kiểm tra hằng tuần.
"""

# Questions no document answers: only an approved answer can.
GAP_QUESTION = "Sản phẩm thủ công mỹ nghệ có được hỗ trợ chi phí tham gia hội chợ quốc tế không?"
GAP_ANSWER = (
    "Có, tối đa 50% chi phí gian hàng theo kế hoạch xúc tiến thương mại của tỉnh; hồ sơ nộp qua Sở Công Thương."
)
GAP_ASKED = "san pham thu cong my nghe co dc ho tro chi phi di hoi cho quoc te ko"


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, embedder):
    root = tmp_path_factory.mktemp("curated")
    kb = root / "knowledge"
    shutil.copytree(SAMPLE_KB, kb)
    (kb / "ip" / "renewal-qa.md").write_text(RENEWAL, encoding="utf-8")
    (kb / "process" / "5s-qa.md").write_text(FIVE_S, encoding="utf-8")
    settings = Settings(_env_file=None, data_dir=root / "data", knowledge_dir=kb)
    Indexer(settings, embedder_factory=lambda: embedder).refresh()
    return settings


class CountingQueries:
    """The real model, counting the query texts it embeds."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.queries = 0

    def embed_queries(self, texts):
        self.queries += len(texts)
        return self.inner.embed_queries(texts)

    def embed_passages(self, texts, batch_size=32, progress=False):
        return self.inner.embed_passages(texts, batch_size=batch_size)


def _engine(settings, embedder, approved=None, cache=True) -> AnswerEngine:
    searcher = HybridSearcher(settings, embedder)
    engine = AnswerEngine(searcher)
    engine.curated = CuratedAnswers(
        searcher, approved=approved, cache_dir=settings.data_dir / "cache" if cache else None
    )
    return engine


@pytest.fixture(scope="module")
def engine(indexed, embedder):
    return _engine(indexed, embedder)


# -- extraction --------------------------------------------------------------------------------------
def test_question_of_a_section():
    assert question_of("Hỏi đáp > Có được không?") == "Có được không?"
    assert question_of("Tiêu đề khác > Hỏi đáp > Có được không?") == "Có được không?"
    assert question_of("Hoi dap > Co duoc khong?") == "Co duoc khong?"
    assert question_of("Hỏi đáp > Có tiểu mục? > Tiểu mục") is None
    assert question_of("Nộp yêu cầu gia hạn") is None and question_of("Hỏi đáp") is None


def test_entries_come_from_a_document_with_its_fields(tmp_path):
    path = tmp_path / "ip" / "renewal-qa.md"
    path.parent.mkdir()
    path.write_text(RENEWAL, encoding="utf-8")
    entries = from_document(loaders.load(path, tmp_path))
    assert [e.question for e in entries] == [
        "Logo công ty đã đăng ký được gia hạn tối đa bao nhiêu lần?",
        "Nộp gia hạn nhãn hiệu trễ 3 tháng thì phải trả thêm bao nhiêu?",
    ]  # the question with a sub-heading is not a short answer
    first = entries[0]
    assert first.answer.startswith("Không giới hạn số lần.") and first.answer.endswith("đúng hạn.")
    assert (first.doc_id, first.title, first.path, first.topic) == (
        "ip-renewal-qa",
        "Gia hạn nhãn hiệu: hỏi nhanh",
        "ip/renewal-qa.md",
        "ip",
    )
    assert first.legal_basis.endswith("Điều 93") and first.effective_from == "2026-04-01"
    assert first.section == "Hỏi đáp > Logo công ty đã đăng ký được gia hạn tối đa bao nhiêu lần?"
    assert not first.approved


def test_an_answer_split_over_chunks_is_left_out():
    meta = {"doc_id": "d", "section": "Hỏi đáp > Dài không?"}
    assert from_chunks([(meta, "Phần một."), (meta, "Phần hai.")]) == []
    assert len(from_chunks([(meta, "Ngắn.")])) == 1


def test_the_index_gives_every_question_once(engine):
    entries = engine.curated.entries()
    assert sorted((e.doc_id, e.question) for e in entries) == [
        ("ip-renewal-qa", "Logo công ty đã đăng ký được gia hạn tối đa bao nhiêu lần?"),
        ("ip-renewal-qa", "Nộp gia hạn nhãn hiệu trễ 3 tháng thì phải trả thêm bao nhiêu?"),
        ("process-5s-qa", "Xưởng 10 người có áp dụng 5S được không?"),
    ]


# -- matching ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "question",
    [
        "Logo công ty đã đăng ký được gia hạn tối đa bao nhiêu lần?",
        "logo cong ty da dang ky duoc gia han toi da bao nhieu lan",
    ],
)
def test_a_matching_question_gets_the_curated_answer(engine, question):
    answer = engine.answer(question)
    assert answer.kind == "answer" and answer.answer.startswith("Không giới hạn số lần.")
    assert answer.answer.endswith("[1]") and len(answer.sources) == 1
    source = answer.sources[0]
    assert (source.doc_id, source.title, source.path) == (
        "ip-renewal-qa",
        "Gia hạn nhãn hiệu: hỏi nhanh",
        "ip/renewal-qa.md",
    )
    assert source.legal_basis.endswith("Điều 93") and source.effective_from == "2026-04-01"
    assert 0.7 <= answer.confidence <= 1 and not answer.handoff_suggested
    assert answer.ranked_doc_ids[0] == "ip-renewal-qa" and answer.note.startswith("curated")


def test_a_looser_paraphrase_is_left_to_retrieval_which_finds_the_same_answer(engine):
    """Below the documents' similarity a curated question may be a neighbouring one; retrieval answers instead,
    here from the same questions-and-answers chunk."""
    answer = engine.answer("logo cty dk xong thi gia han dc bao nhieu lan vay")
    assert not answer.note.startswith("curated")
    assert "Không giới hạn số lần" in answer.answer and answer.sources[0].doc_id == "ip-renewal-qa"


def test_other_questions_are_left_to_retrieval(engine):
    for question in ("Nhãn hiệu được bảo hộ bao lâu?", "Giá vàng SJC hôm nay bao nhiêu?", "cach nau pho bo ngon"):
        assert not engine.answer(question).note.startswith("curated")
    assert engine.answer("Giá vàng SJC hôm nay bao nhiêu?").kind == "abstain"


def test_the_match_reuses_the_query_vector_of_retrieval(indexed, embedder):
    counting = CountingQueries(embedder)
    engine = _engine(indexed, counting)
    engine.answer("xưởng 10 người áp dụng 5S được không")  # loads the set (its vectors come from the cache)
    before = counting.queries
    answer = engine.answer("Xưởng mười người có làm 5S được không?")
    assert answer.sources[0].doc_id == "process-5s-qa"
    assert counting.queries - before == 1  # the question's own embedding, shared by retrieval and matching


def test_question_vectors_are_cached_by_model_and_text(indexed, embedder, tmp_path):
    settings = indexed.model_copy(update={"data_dir": tmp_path})
    (tmp_path / "index").symlink_to(indexed.data_dir / "index")
    first = CountingQueries(embedder)
    CuratedAnswers(HybridSearcher(settings, first), cache_dir=tmp_path / "cache").entries()
    assert first.queries == 3  # three questions
    assert list((tmp_path / "cache").glob("curated-questions-*.npz"))
    again = CountingQueries(embedder)
    CuratedAnswers(HybridSearcher(settings, again), cache_dir=tmp_path / "cache").entries()
    assert again.queries == 0


class Extra:
    """Further curated entries, as the approved-answers service would give them."""

    def __init__(self, *entries) -> None:
        self.extra = list(entries)

    def version(self) -> tuple:
        return (len(self.extra),)

    def curated_entries(self):
        return list(self.extra)


FIVE_S_QUESTION = "Xưởng 10 người có áp dụng 5S được không?"


def _five_s(engine):
    return next(e for e in engine.curated.entries() if e.question == FIVE_S_QUESTION)


def test_an_ambiguous_match_is_not_answered(indexed, embedder, engine):
    """Two documents answering the same question equally: no margin, so retrieval decides."""
    twin = dataclasses.replace(_five_s(engine), doc_id="process-5s-twin")
    curated = CuratedAnswers(engine.searcher, approved=Extra(twin))
    vector = engine.searcher.query_vector(FIVE_S_QUESTION)  # similar enough: only the margin decides
    found = curated.match(vector)
    assert found.margin == pytest.approx(0.0, abs=1e-5) and not curated.strong(found)
    assert engine.curated.strong(engine.curated.match(vector))


def test_a_superseded_document_never_answers(engine):
    old = dataclasses.replace(
        _five_s(engine), doc_id="process-5s-old", answer="Quy định cũ.", effective_to="2026-01-31"
    )
    curated = CuratedAnswers(engine.searcher, approved=Extra(old))
    vector = engine.searcher.query_vector(FIVE_S_QUESTION)
    assert not curated.strong(curated.match(vector, today=dt.date(2026, 1, 15)))  # both in force: ambiguous
    later = curated.match(vector, today=dt.date(2026, 2, 1))
    assert later.entry.doc_id == "process-5s-qa" and curated.strong(later)


# -- approved answers --------------------------------------------------------------------------------
@pytest.fixture
def answers(database_url):
    store = Store(database_url)
    return AnswerService(store)


def test_review_date_and_ids():
    assert review_date(dt.date(2026, 12, 2)) == dt.date(2027, 12, 2)
    assert review_date(dt.date(2024, 2, 29)) == dt.date(2025, 2, 28)
    assert review_date(dt.date(2026, 8, 31), 6) == dt.date(2027, 2, 28)
    assert parse_id("answer-12") == parse_id("12") == parse_id(12) == 12
    with pytest.raises(AnswerError):
        parse_id("ip-trademark")


def test_the_approved_answer_lifecycle(answers):
    proposal = answers.propose(
        GAP_QUESTION, GAP_ANSWER, "other", ticket_id=7, proposed_by=501, owner_id=42, owner_text="Tôi là Lan, 0912…"
    )
    assert proposal.status == "pending" and proposal.doc_id == f"answer-{proposal.id}"
    assert answers.curated_entries() == []  # a proposal never answers
    version = answers.version()
    approved = answers.approve(proposal.doc_id, 900, "Admin Minh")
    assert answers.version() != version
    assert approved.status == "approved" and (approved.approved_by, approved.approved_by_name) == (900, "Admin Minh")
    assert approved.review_on == review_date(approved.approved_at.date())
    with answers.session() as s:
        row = s.get(CuratedAnswer, approved.id)
        assert row.owner_text == "" and row.owner_id is None  # approved answers hold no personal data
    [entry] = answers.curated_entries()
    assert entry.doc_id == approved.doc_id and entry.approved
    assert entry.effective_to == approved.review_on.isoformat()
    with pytest.raises(AnswerError, match="approved, not pending"):
        answers.approve(approved.id, 900)
    edited = answers.edit(approved.id, answer=GAP_ANSWER + " Liên hệ phòng hành chính.")
    assert edited.answer.endswith("hành chính.") and answers.version() != version
    retired = answers.retire(approved.id, by=900)
    assert retired.retired and retired.status == "retired" and answers.curated_entries() == []
    with pytest.raises(AnswerError):
        answers.retire(approved.id)
    other = answers.propose("Câu hỏi khác?", "Trả lời khác.")
    assert answers.discard(other.id, by=900).status == "discarded"
    with pytest.raises(AnswerError):
        answers.approve(other.id, 900)
    assert [r.status for r in answers.list()] == ["discarded", "retired"]
    assert [r.id for r in answers.list("retired")] == [approved.id]
    with pytest.raises(AnswerError):
        answers.propose("", "x")


def test_forget_removes_the_owner_text_from_proposals(answers, database_url):
    pending = answers.propose(GAP_QUESTION, GAP_ANSWER, owner_id=42, owner_text="Tôi là Lan")
    kept = answers.add("Câu hỏi chung?", "Trả lời chung.", approved_by=900)
    Store(database_url).forget(42)
    after = answers.get(pending.id)
    assert after.question == "" and after.status == "pending"
    with pytest.raises(AnswerError, match="no question"):
        answers.approve(pending.id, 900)
    assert answers.get(kept.id).question == "Câu hỏi chung?"


def test_an_approved_answer_answers_at_once_on_every_replica_and_stops_when_retired(
    indexed, embedder, answers, database_url
):
    replica_a = _engine(indexed, embedder, approved=answers, cache=False)
    replica_b = _engine(indexed, embedder, approved=AnswerService(Store(database_url)), cache=False)
    assert not replica_a.answer(GAP_ASKED).note.startswith("curated")
    record = answers.add(GAP_QUESTION, GAP_ANSWER, "other", approved_by=900, approved_by_name="Admin Minh")
    month = f"{record.approved_at.month:02d}/{record.approved_at.year}"
    for replica in (replica_a, replica_b):
        answer = replica.answer(GAP_ASKED)
        assert answer.answer == GAP_ANSWER + " [1]" and answer.kind == "answer"
        assert answer.sources[0].doc_id == record.doc_id
        assert answer.sources[0].title == f"Chuyên gia trung tâm (duyệt {month})"
    answers.retire(record.id)
    for replica in (replica_a, replica_b):
        assert not replica.answer(GAP_ASKED).note.startswith("curated")


@pytest.mark.parametrize("state", ["expired", "discarded", "pending"])
def test_an_expired_discarded_or_pending_answer_never_answers(indexed, embedder, answers, state):
    engine = _engine(indexed, embedder, approved=answers, cache=False)
    if state == "expired":
        long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=400)
        record = answers.propose(GAP_QUESTION, GAP_ANSWER)
        record = answers.approve(record.id, 900, when=long_ago)
        assert record.stale() and not record.usable()
    else:
        record = answers.propose(GAP_QUESTION, GAP_ANSWER)
        if state == "discarded":
            answers.discard(record.id)
    assert not engine.answer(GAP_ASKED).note.startswith("curated")
    assert not engine.answer(GAP_QUESTION).note.startswith("curated")


# -- the command line --------------------------------------------------------------------------------
@pytest.fixture
def cli_env(indexed, tmp_path, monkeypatch):
    data = tmp_path / "data"
    monkeypatch.setenv("DATA_DIR", str(data))
    monkeypatch.setenv("KNOWLEDGE_DIR", str(indexed.knowledge_dir))
    data.mkdir()
    store = Store(f"sqlite:///{data / 'bot.sqlite3'}")
    return AnswerService(store)


def test_cli_list_show_retire_export(cli_env, capsys, tmp_path):
    answers = cli_env
    record = answers.add(
        GAP_QUESTION, GAP_ANSWER, "other", approved_by=900, approved_by_name="Admin Minh", legal_basis="Quy chế"
    )
    pending = answers.propose("Câu hỏi đang chờ?", "Trả lời đang chờ.", "ip")
    assert cli_main(["answers", "list"]) == 0
    out = capsys.readouterr().out
    assert f"{record.doc_id}\tapproved" in out and f"{pending.doc_id}\tpending" in out
    assert cli_main(["answers", "list", "--json", "--status", "approved"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["doc_id"] for r in listed] == [record.doc_id] and listed[0]["approved_by_name"] == "Admin Minh"
    assert listed[0]["review_on"] == record.review_on.isoformat() and listed[0]["stale"] is False
    assert cli_main(["answers", "show", record.doc_id]) == 0
    shown = capsys.readouterr().out
    assert GAP_QUESTION in shown and GAP_ANSWER in shown and "Admin Minh" in shown
    assert cli_main(["answers", "show", "999"]) == 1

    target = tmp_path / "export"
    assert cli_main(["answers", "export", str(target)]) == 0
    [path] = list(target.rglob("*.md"))
    assert path.relative_to(target).as_posix() == f"other/{record.doc_id}.md"
    doc = loaders.load(path, target)
    assert doc.meta["id"] == record.doc_id and doc.meta["title"] == GAP_QUESTION and doc.meta["topic"] == "other"
    assert doc.meta["legal_basis"] == "Quy chế" and doc.meta["last_reviewed"] == record.approved_at.date().isoformat()
    [entry] = from_document(doc)
    assert (entry.question, entry.answer) == (GAP_QUESTION, GAP_ANSWER)
    assert "Chuyên gia trung tâm (duyệt" in doc.text

    assert cli_main(["answers", "retire", record.doc_id]) == 0
    assert "retired" in capsys.readouterr().out
    assert answers.get(record.id).status == "retired"
    assert cli_main(["answers", "retire", record.doc_id]) == 1
    assert "retired, not approved" in capsys.readouterr().err
    assert cli_main(["answers", "show", "nonsense"]) == 1


def test_the_restorer_learns_the_words_of_approved_questions_and_keeps_its_own():
    from indexer.restore import DiacriticRestorer

    corpus = DiacriticRestorer.from_texts(["Nhãn hiệu được bảo hộ 10 năm.", "Hồ sơ nộp tại Cục."])
    taught = corpus.extended(["Sản phẩm thủ công mỹ nghệ đi hội chợ?", "Nhân hiếu"])
    assert taught.restore("san pham thu cong my nghe di hoi cho") == "sản phẩm thủ công mỹ nghệ đi hội chợ"
    assert taught.restore("nhan hieu bao ho") == "nhãn hiệu bảo hộ"  # the documents' forms win
    assert corpus.restore("hoi cho") == "hoi cho"  # the original is left as it was


def test_the_restorer_also_learns_how_owners_write_from_the_intent_examples(engine):
    """Owners' own words ("tôi", "chuyên viên") are rare in guidance documents; the labelled intent examples are
    written as owners write, so a message typed without diacritics is restored, and embedded, as they would."""
    engine.answer("nhãn hiệu được bảo hộ bao lâu")  # the curated snapshot is built, teaching the restorer
    assert engine.searcher.restorer.restore("toi muon gap chuyen vien") == "tôi muốn gặp chuyên viên"
