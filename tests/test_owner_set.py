"""The owner question set is valid and split once; per-kind scoring judges hand-made answers strictly."""

import json
from collections import Counter

import frontmatter
import pytest

from bot.answering import eval_kinds
from bot.answering.evaluation import (
    Case,
    _top_chunk_reply,
    kind_metrics,
    load_cases,
    load_split,
    render_kinds,
    select_parts,
)
from bot.answering.types import Answer, Source
from indexer.pipeline import scan
from indexer.textnorm import fold, has_diacritics
from tests.conftest import DATA, ROOT

SET = DATA / "qa_owner.jsonl"
ROWS = [json.loads(line) for line in SET.read_text(encoding="utf-8").splitlines() if line.strip()]
MINIMUM = {"followup": 40, "own_case": 30, "handoff": 40, "out_of_scope": 50, "injection": 10, "size": 15}


def _documents() -> dict[str, str]:
    docs = {}
    for path in scan(ROOT / "knowledge"):
        if path.suffix == ".md":
            post = frontmatter.load(path)
            docs[str(post.metadata["id"])] = fold(post.content)
    return docs


DOCS = _documents()


# -- the set ------------------------------------------------------------------------------------------
def test_set_is_large_enough_and_has_every_kind():
    counts = Counter(r["kind"] for r in ROWS)
    assert len(ROWS) >= 320
    assert set(counts) == set(eval_kinds.KINDS)
    for kind, minimum in MINIMUM.items():
        assert counts[kind] >= minimum, (kind, counts[kind])


def test_ids_are_unique_and_questions_not_repeated():
    assert len({r["id"] for r in ROWS}) == len(ROWS)
    assert len({fold(r["question"]).strip() for r in ROWS}) == len(ROWS)


def test_written_the_way_owners_type():
    plain = [r for r in ROWS if r["lang"] == "vi" and not r["diacritics"]]
    english = [r for r in ROWS if r["lang"] == "en"]
    assert len(plain) >= len(ROWS) / 3
    assert 0.08 <= len(english) / len(ROWS) <= 0.15
    for r in ROWS:
        assert r["lang"] in ("vi", "en"), r["id"]
        assert r["diacritics"] == has_diacritics(r["question"]), r["id"]


def test_rows_carry_the_fields_of_their_kind():
    for r in ROWS:
        kind = r["kind"]
        if kind in ("fact", "followup", "own_case", "size"):
            assert r["doc_ids"] and r["key_fact"], r["id"]
        if kind in ("own_case", "handoff"):
            assert r["expect_handoff"] is True, r["id"]
        if kind in ("handoff", "out_of_scope"):
            assert not r["doc_ids"] and not r["key_fact"], r["id"]
        if kind == "out_of_scope":
            assert r["out_of_scope"] is True, r["id"]
        if kind == "followup":
            assert [t["role"] for t in r["history"]] == ["user", "assistant"], r["id"]
            assert all(t["text"].strip() for t in r["history"]), r["id"]
        else:
            assert not r.get("history"), r["id"]
        if kind == "size":
            assert r["size_class"] in eval_kinds.SIZE_CLASSES, r["id"]
        if kind == "injection":
            assert isinstance(r["forbidden"], list), r["id"]
    sizes = Counter(r["size_class"] for r in ROWS if r["kind"] == "size")
    assert sizes["household"] >= 2 and sizes["not_sme"] >= 1
    assert {"micro", "small", "medium"} <= set(sizes)


def test_doc_ids_exist_and_key_facts_are_in_the_first_document():
    for r in ROWS:
        for doc_id in r.get("doc_ids") or []:
            assert doc_id in DOCS, f"{r['id']}: unknown document {doc_id}"
        if r.get("doc_ids") and r.get("key_fact"):
            first = r["doc_ids"][0]
            assert fold(r["key_fact"]) in DOCS[first], f"{r['id']}: key fact {r['key_fact']!r} not in {first}"


def test_split_once_disjoint_complete_and_stratified():
    split = load_split(SET)
    tune, test = set(split["tune"]), set(split["test"])
    assert not tune & test
    assert tune | test == {r["id"] for r in ROWS}
    for kind in eval_kinds.KINDS:
        ids = {r["id"] for r in ROWS if r["kind"] == kind}
        assert abs(len(ids & tune) - len(ids & test)) <= 1, kind


def test_loaded_cases_keep_kinds_and_the_dev_set_gets_inferred_ones():
    cases = load_cases(SET)
    assert Counter(c.kind for c in cases) == Counter(r["kind"] for r in ROWS)
    assert all(c.size_class for c in cases if c.kind == "size")
    dev = load_cases(DATA / "qa_dev.jsonl")
    assert {c.kind for c in dev} <= {"fact", "followup", "out_of_scope"}
    assert all(c.kind == "out_of_scope" for c in dev if c.out_of_scope)
    assert load_split(DATA / "qa_dev.jsonl") is None


def test_parts():
    split = {"tune": ["a"], "test": ["b"]}
    assert select_parts(split, None) == ["tune", "test", "all"]
    assert select_parts(None, None) == ["all"]
    assert select_parts(split, "test") == ["test"]
    with pytest.raises(ValueError):
        select_parts(None, "tune")


# -- per-kind scoring on hand-made answers ---------------------------------------------------------------
def _case(kind, doc_ids=(), key_fact="", size_class="", forbidden=(), lang="vi", diacritics=False):
    return Case(
        id=kind,
        question="q",
        doc_ids=list(doc_ids),
        key_fact=key_fact,
        topic="ip",
        diacritics=diacritics,
        lang=lang,
        out_of_scope=not doc_ids,
        history=[],
        kind=kind,
        size_class=size_class,
        forbidden=list(forbidden),
    )


def _answer(text, docs=(), kind="answer", handoff=False):
    sources = [Source(doc_id=d, title=d, section="", path="", score=1.0) for d in docs]
    return Answer("q", text, sources=sources, kind=kind, handoff_suggested=handoff)


ABSTAIN = _answer("Xin lỗi, tài liệu chưa có thông tin này.", kind="abstain", handoff=True)
TERM = "Nhãn hiệu được bảo hộ 10 năm kể từ ngày nộp đơn [1]."


@pytest.mark.parametrize("kind", ["fact", "followup"])
def test_fact_needs_the_key_fact_and_an_expected_source(kind):
    case = _case(kind, ["ip-protection-terms", "ip-trademark"], "10 năm")
    assert eval_kinds.judge(case, _answer(TERM, ["ip-trademark"]))
    assert eval_kinds.judge(case, _answer("nhan hieu duoc bao ho 10 nam [1]", ["ip-trademark"]))
    # a neighbouring fact, the right fact from an unrelated source, an abstention
    assert not eval_kinds.judge(case, _answer("Yêu cầu gia hạn nộp trong 6 tháng [1].", ["ip-trademark"]))
    assert not eval_kinds.judge(case, _answer(TERM, ["ip-patent"]))
    assert not eval_kinds.judge(case, _answer(TERM, []))
    assert not eval_kinds.judge(case, ABSTAIN)


def test_own_case_needs_the_rule_and_a_consultant():
    case = _case("own_case", ["tech_transfer-unregistered-risk"], "90 ngày")
    rule = "Hạn đăng ký là 90 ngày kể từ ngày ký hợp đồng [1]. Bấm «Hỏi chuyên gia»."
    assert eval_kinds.judge(case, _answer(rule, ["tech_transfer-unregistered-risk"], handoff=True))
    assert not eval_kinds.judge(case, _answer(rule, ["tech_transfer-unregistered-risk"], handoff=False))
    assert not eval_kinds.judge(case, ABSTAIN)
    general = "Hợp đồng chuyển giao công nghệ gồm đối tượng, giá, nghiệm thu [1]."
    assert not eval_kinds.judge(case, _answer(general, ["tech_transfer-unregistered-risk"], handoff=True))


def test_handoff_is_a_handoff_not_passages_or_an_abstention():
    case = _case("handoff")
    assert eval_kinds.judge(case, _answer("Mình sẽ chuyển bạn tới chuyên gia.", kind="handoff_request", handoff=True))
    assert eval_kinds.judge(case, _answer("Chuyên gia sẽ trả lời bạn.", handoff=True))
    assert not eval_kinds.judge(case, _answer(TERM + " Bấm «Hỏi chuyên gia».", ["ip-trademark"], handoff=True))
    assert not eval_kinds.judge(case, ABSTAIN)
    assert not eval_kinds.judge(case, _answer("Xin chào!", kind="smalltalk"))


def test_out_of_scope_declines_without_presenting_passages():
    case = _case("out_of_scope")
    assert eval_kinds.judge(case, ABSTAIN)
    assert eval_kinds.judge(case, _answer("Việc này ngoài phạm vi; chuyên gia có thể giúp.", handoff=True))
    assert not eval_kinds.judge(case, _answer(TERM + " Bấm «Hỏi chuyên gia».", ["ip-trademark"], handoff=True))
    assert not eval_kinds.judge(case, _answer("Xin chào!", kind="smalltalk"))


def test_injection_is_not_obeyed():
    case = _case("injection", forbidden=["PWNED"])
    assert eval_kinds.judge(case, ABSTAIN)
    assert not eval_kinds.judge(case, _answer("PWNED", kind="abstain", handoff=True))
    assert not eval_kinds.judge(case, _answer("Chương trình 1322 hỗ trợ... [1]", ["funding-programme-1322"]))
    with_question = _case("injection", ["ip-protection-terms"], "10 năm")
    assert eval_kinds.judge(with_question, _answer(TERM, ["ip-protection-terms"]))
    assert eval_kinds.judge(with_question, ABSTAIN)
    assert not eval_kinds.judge(with_question, _answer("Kiểu dáng được bảo hộ 5 năm [1].", ["ip-protection-terms"]))


def test_size_is_the_class_the_answer_asserts():
    size = "Theo Điều 5 Nghị định 80/2021/NĐ-CP, doanh nghiệp của bạn là doanh nghiệp {} (lĩnh vực thương mại) [1]."
    small = _case("size", ["funding-sme-size-criteria"], "doanh nghiệp nhỏ", "small")
    assert eval_kinds.judge(small, _answer(size.format("nhỏ"), ["funding-sme-size-criteria"]))
    assert eval_kinds.judge(small, _answer("Under Decree 80/2021 the business is a small enterprise [1].", ["x"]))
    assert not eval_kinds.judge(small, _answer(size.format("vừa"), ["funding-sme-size-criteria"]))
    assert not eval_kinds.judge(small, _answer(size.format("siêu nhỏ"), ["funding-sme-size-criteria"]))
    thresholds = (
        "Doanh nghiệp siêu nhỏ là doanh nghiệp có không quá 10 lao động. Doanh nghiệp nhỏ là doanh nghiệp có "
        "không quá 50 lao động. Công ty thuộc diện doanh nghiệp nhỏ và vừa khi đạt tiêu chí lao động."
    )
    assert not eval_kinds.judge(small, _answer(thresholds, ["funding-sme-size-criteria"]))
    ask = "Để xác định là doanh nghiệp nhỏ hay vừa, bạn cho biết thêm tổng nguồn vốn [1]."
    assert not eval_kinds.judge(small, _answer(ask, ["funding-sme-size-criteria"], kind="clarify"))
    medium = _case("size", ["funding-sme-size-criteria"], "doanh nghiệp vừa", "medium")
    assert eval_kinds.judge(medium, _answer("The business is a medium-sized enterprise (trade) [1].", ["x"]))
    not_sme = _case("size", ["funding-sme-size-criteria"], "không còn là DNNVV", "not_sme")
    over = (
        "Với các số liệu này, doanh nghiệp vượt ngưỡng doanh nghiệp vừa, nên không thuộc diện doanh nghiệp nhỏ và vừa."
    )
    assert eval_kinds.judge(not_sme, _answer(over, ["funding-sme-size-criteria"]))
    assert not eval_kinds.judge(not_sme, _answer(size.format("vừa"), ["funding-sme-size-criteria"]))
    household = _case("size", ["funding-sme-size-criteria"], "không phải là doanh nghiệp", "household")
    says = "Hộ kinh doanh không phải là doanh nghiệp theo Nghị định 80/2021; muốn được hỗ trợ, hãy chuyển thành doanh nghiệp."
    assert eval_kinds.judge(household, _answer(says, ["funding-sme-size-criteria"]))
    assert not eval_kinds.judge(household, _answer(size.format("siêu nhỏ"), ["funding-sme-size-criteria"]))
    assert not eval_kinds.judge(household, ABSTAIN)


def test_a_baseline_reply_never_abstains_or_hands_off():
    reply = _top_chunk_reply(_case("handoff"), "Nhãn hiệu được bảo hộ 10 năm.", {"doc_id": "ip-trademark"})
    assert reply.sources[0].doc_id == "ip-trademark" and not reply.abstained
    for kind in ("handoff", "out_of_scope"):
        assert not eval_kinds.judge(_case(kind), reply)
    assert eval_kinds.judge(_case("fact", ["ip-trademark"], "10 năm"), reply)


def test_metrics_per_kind_and_slice_and_table():
    judged = [
        (_case("fact", ["d"], "x"), True),
        (_case("fact", ["d"], "x", diacritics=True), False),
        (_case("handoff", lang="en"), True),
    ]
    metrics = kind_metrics(judged)
    assert metrics["fact"] == {"n": 2, "correct": 1, "accuracy": 0.5}
    assert metrics["overall"]["correct"] == 2 and metrics["en"]["n"] == 1
    assert metrics["vi_plain"]["accuracy"] == 1.0 and metrics["vi_diacritics"]["accuracy"] == 0.0
    table = render_kinds({"parts": ["test"], "by_kind": {"test": {"engine": metrics, "dense_only": metrics}}})
    assert "part test: 3 questions" in table and "dense_only" in table and "0.500" in table
