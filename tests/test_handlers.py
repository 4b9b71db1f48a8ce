"""Handlers driven through Application.process_update with a recording request class (no network)."""

import asyncio
import shutil
import time

import pytest
from telegram import Update

from bot import i18n
from bot.app import build_services
from bot.config import Settings
from bot.telegram.runner import build_application
from indexer.pipeline import Indexer
from tests.conftest import SAMPLE_KB, changed
from tests.fake_request import RecordingRequest

USER = {"id": 501, "is_bot": False, "first_name": "Lan", "language_code": "vi"}
_ids = iter(range(1, 10**6))


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, embedder):
    root = tmp_path_factory.mktemp("handlers")
    shutil.copytree(SAMPLE_KB, root / "knowledge")
    settings = Settings(
        _env_file=None,
        data_dir=root / "data",
        knowledge_dir=root / "knowledge",
        telegram_bot_token="1:TEST",
        rate_limit_per_minute=4,
    )
    Indexer(settings, embedder_factory=lambda: embedder).refresh()
    return settings


async def recording_app(settings, embedder):
    """The real Application, engine and store; Bot API calls are recorded in `request_log`, none sent."""
    request = RecordingRequest()
    application = build_application(build_services(settings, embedder=embedder), request=request)
    await application.initialize()
    application.request_log = request
    return application


async def handoff_app(indexed, embedder, tmp_path, group: int, consultant_id: int):
    """The recording Application with a consultants' group open around the clock and one consultant (ip)."""
    settings = changed(
        indexed,
        {
            "database_url": f"sqlite:///{tmp_path / 'bot.sqlite3'}",
            "consultants_chat_id": group,
            "working_hours": "00:00-24:00",
            "working_days": "1-7",
        },
    )
    application = await recording_app(settings, embedder)
    svc = application.bot_data.services.handoff
    svc.consultants.add(consultant_id, "Minh", "ip")
    return application, svc


@pytest.fixture
async def app(indexed, embedder, tmp_path):
    settings = changed(indexed, {"database_url": f"sqlite:///{tmp_path / 'bot.sqlite3'}"})
    application = await recording_app(settings, embedder)
    yield application
    await application.shutdown()


def _message(text=None, **extra):
    message = {
        "message_id": next(_ids),
        "date": int(time.time()),
        "chat": {"id": USER["id"], "type": "private"},
        "from": USER,
        **extra,
    }
    if text is not None:
        message["text"] = text
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"update_id": next(_ids), "message": message}


async def _push(app, data):
    await app.process_update(Update.de_json(data, app.bot))


async def test_question_gets_answer_with_sources_and_buttons(app):
    await _push(app, _message("nhan hieu duoc bao ho bao lau"))
    sent = app.request_log.sent("sendMessage")[-1]
    assert "10 năm" in sent["text"] and "[1]" in sent["text"] and sent["parse_mode"] == "HTML"
    labels = [b["text"] for row in sent["reply_markup"]["inline_keyboard"] for b in row]
    assert any("chuyên gia" in label for label in labels)
    assert all(len(b["callback_data"].encode()) <= 64 for row in sent["reply_markup"]["inline_keyboard"] for b in row)
    assert app.request_log.sent("sendChatAction")


async def test_invisible_characters_do_not_make_a_question_unanswerable(app):
    await _push(app, _message("nh\u200bãn hi\u200bệu đư\u200bợc bảo hộ bao lâu"))
    assert "10 năm" in app.request_log.sent("sendMessage")[-1]["text"]


async def test_feedback_button_is_answered(app):
    await _push(app, _message("bằng sáng chế hiệu lực mấy năm"))
    markup = app.request_log.sent("sendMessage")[-1]["reply_markup"]
    data = markup["inline_keyboard"][0][0]["callback_data"]
    query = {
        "id": "q1",
        "from": USER,
        "chat_instance": "c",
        "data": data,
        "message": {
            "message_id": 1,
            "date": int(time.time()),
            "chat": {"id": USER["id"], "type": "private"},
            "text": "x",
        },
    }
    await _push(app, {"update_id": next(_ids), "callback_query": query})
    assert app.request_log.sent("answerCallbackQuery")


def _owner_press(data, user=USER, query_id="q"):
    message = {"message_id": 1, "date": int(time.time()), "chat": {"id": user["id"], "type": "private"}, "text": "x"}
    return {
        "update_id": next(_ids),
        "callback_query": {"id": query_id, "from": user, "chat_instance": "c", "data": data, "message": message},
    }


def _feedback_rows(app):
    from sqlalchemy import select

    from bot.storage import Feedback

    with app.bot_data.services.store.session() as s:
        return [(f.user_id, f.message_id, f.value) for f in s.scalars(select(Feedback))]


async def test_feedback_is_stored_once_per_answer_and_only_for_its_asker(app):
    await _push(app, _message("bằng sáng chế hiệu lực mấy năm"))
    data = app.request_log.sent("sendMessage")[-1]["reply_markup"]["inline_keyboard"][0][1]["callback_data"]
    ref = int(data.rsplit(":", 1)[1])
    await _push(app, _owner_press(data))
    await _push(app, _owner_press(data))  # pressed twice: one vote
    stranger = {**USER, "id": 777, "first_name": "X"}
    await _push(app, _owner_press(data, user=stranger, query_id="forged"))  # someone else's answer
    for forged in (f"fb:1000:{ref}", f"fb:-7:{ref}", "fb:1:" + "9" * 40, "fb:1", "zz:1:2", ""):
        await _push(app, _owner_press(forged, query_id="bad"))
    assert _feedback_rows(app) == [(USER["id"], ref, -1)]
    answered = {q["callback_query_id"] for q in app.request_log.sent("answerCallbackQuery")}
    assert {"forged", "bad"} <= answered  # every press is answered, none crashes the handler


async def test_sticker_gets_a_helpful_reply(app):
    sticker = {
        "file_id": "s",
        "file_unique_id": "s",
        "width": 1,
        "height": 1,
        "is_animated": False,
        "is_video": False,
        "type": "regular",
    }
    await _push(app, _message(sticker=sticker))
    assert app.request_log.sent("sendMessage")[-1]["text"] == i18n.t("vi", "common.non_text")


async def test_rate_limit_is_polite(app):
    for _ in range(4):
        await _push(app, _message("nhãn hiệu bảo hộ bao lâu"))
    await _push(app, _message("nhãn hiệu bảo hộ bao lâu"))
    assert app.request_log.sent("sendMessage")[-1]["text"] == i18n.t("vi", "common.slow_down")


async def test_long_message_is_read_in_part(app):
    await _push(app, _message("nhãn hiệu " * 1200))
    sent = [m["text"] for m in app.request_log.sent("sendMessage")]
    assert any("dài" in t for t in sent)
    assert all(len(t) <= 4096 for t in sent)


async def test_network_error_is_retried(app):
    """The reply stays in the outbox through the fault and goes out on the next drain after a short backoff."""
    from telegram.error import NetworkError

    from bot.telegram.handoff_delivery import drain

    request = app.request_log
    original = request.do_request
    failures = {"left": 1}

    async def flaky(url, method, request_data=None, **kw):
        if url.endswith("/sendMessage") and failures["left"]:
            failures["left"] -= 1
            raise NetworkError("connection reset")
        return await original(url, method, request_data, **kw)

    request.do_request = flaky
    await _push(app, _message("/help"))
    assert failures["left"] == 0 and not request.sent("sendMessage")
    assert app.bot_data.services.handoff.outbox.count_pending() == 1
    await asyncio.sleep(1.1)  # the first backoff
    await drain(app, 501)
    assert [m["text"][:9] for m in request.sent("sendMessage")] == ["Cách dùng"]  # once
    assert app.bot_data.services.handoff.outbox.count_pending() == 0


async def test_english_client_gets_english_texts(app):
    english = {**USER, "id": 777, "language_code": "en"}
    data = _message("/help")
    data["message"]["from"] = english
    data["message"]["chat"]["id"] = 777
    await _push(app, data)
    assert app.request_log.sent("sendMessage")[-1]["text"].startswith("How to use")


async def test_rate_limit_holds_for_a_burst(app):
    import asyncio

    burst = [_message("nhãn hiệu bảo hộ bao lâu") for _ in range(8)]
    for data in burst:
        data["message"]["from"] = {**USER, "id": 888}
        data["message"]["chat"]["id"] = 888
    await asyncio.gather(*[_push(app, data) for data in burst])
    replies = [m["text"] for m in app.request_log.sent("sendMessage") if m["chat_id"] == 888]
    assert sum(t == i18n.t("vi", "common.slow_down") for t in replies) == 4  # the limit is 4 a minute


async def test_a_failing_button_is_still_answered(app, monkeypatch):
    store = app.bot_data.services.store

    def broken(*args, **kwargs):
        raise RuntimeError("database is gone")

    monkeypatch.setattr(store, "add_feedback", broken)
    query = {
        "id": "q-err",
        "from": USER,
        "chat_instance": "c",
        "data": "fb:1:1",
        "message": {
            "message_id": 1,
            "date": int(time.time()),
            "chat": {"id": USER["id"], "type": "private"},
            "text": "x",
        },
    }
    await _push(app, {"update_id": next(_ids), "callback_query": query})
    await asyncio.sleep(0.1)
    assert [q for q in app.request_log.sent("answerCallbackQuery") if q["callback_query_id"] == "q-err"]


async def test_start_records_consent_and_forget_clears_it(app):
    store = app.bot_data.services.store
    await _push(app, _message("/start"))
    assert store.consented_at(USER["id"]) is not None
    store.forget(USER["id"])
    assert store.consented_at(USER["id"]) is None


def _as(user_id, data, language_code="vi"):
    data["message"]["from"] = {**USER, "id": user_id, "language_code": language_code}
    data["message"]["chat"]["id"] = user_id
    return data


def _press(user_id, data, language_code="vi"):
    query = {
        "id": f"q{next(_ids)}",
        "from": {**USER, "id": user_id, "language_code": language_code},
        "chat_instance": "c",
        "data": data,
        "message": {"message_id": 1, "date": int(time.time()), "chat": {"id": user_id, "type": "private"}, "text": "x"},
    }
    return {"update_id": next(_ids), "callback_query": query}


def _to(app, chat_id):
    return [m for m in app.request_log.sent("sendMessage") if m["chat_id"] == chat_id]


def _labels(app, chat_id):
    """The button labels of the last message to the chat."""
    return [b["text"] for row in _to(app, chat_id)[-1]["reply_markup"]["inline_keyboard"] for b in row]


async def test_a_user_who_writes_english_is_answered_in_english_whatever_the_phone_says(app):
    await _push(app, _as(901, _message("How long is a trademark protected?")))
    answer = _to(app, 901)[-1]
    labels = _labels(app, 901)
    assert "Sources:" in answer["text"] and "10 năm" in answer["text"]
    assert "👍 Helpful" in labels and any("chuyên gia" in label for label in labels)  # the contract label stays
    await _push(app, _as(901, _message("/help")))
    assert _to(app, 901)[-1]["text"].startswith("How to use")
    sticker = {
        "file_id": "s",
        "file_unique_id": "s",
        "width": 1,
        "height": 1,
        "is_animated": False,
        "is_video": False,
        "type": "regular",
    }
    await _push(app, _as(901, _message(sticker=sticker)))
    assert _to(app, 901)[-1]["text"] == i18n.t("en", "common.non_text")


async def test_an_english_phone_that_writes_vietnamese_gets_vietnamese(app):
    await _push(app, _as(902, _message("/help"), "en"))
    assert _to(app, 902)[-1]["text"].startswith("How to use")  # before writing anything: the phone's language
    await _push(app, _as(902, _message("nhãn hiệu được bảo hộ bao lâu"), "en"))
    labels = _labels(app, 902)
    assert "👍 Hữu ích" in labels
    await _push(app, _as(902, _message("/help"), "en"))
    assert _to(app, 902)[-1]["text"].startswith("Cách dùng")


async def test_english_topic_examples_ask_the_english_question(app):
    await _push(app, _as(903, _message("/topics"), "en"))
    topics = _to(app, 903)[-1]
    assert topics["text"] == i18n.t("en", "common.topics_prompt")
    assert topics["reply_markup"]["inline_keyboard"][0][0]["text"] == i18n.t("en", "topics.ip")
    await _push(app, _press(903, "topic:ip", "en"))
    examples = _to(app, 903)[-1]["reply_markup"]["inline_keyboard"]
    assert examples[0][0]["text"] == i18n.items("en", "topics.examples_ip")[0]
    await _push(app, _press(903, examples[0][0]["callback_data"], "en"))
    answer = _to(app, 903)[-1]["text"]
    assert answer.startswith("From the centre&#x27;s guidance") and "10 năm" in answer
    # A Vietnamese example button sent before buttons carried a language still asks its question.
    await _push(app, _press(903, "ex:ip:0", "en"))
    assert "10 năm" in _to(app, 903)[-1]["text"]


def test_send_rate_follows_the_setting(indexed, tmp_path):
    """Telegram allows a bot about 30 messages a second; the limit is a setting for paid broadcasts."""
    for rate in (30, 5):
        settings = changed(indexed, {"telegram_messages_per_second": rate, "data_dir": tmp_path})
        app = build_application(build_services(settings), request=RecordingRequest())
        assert app.bot.rate_limiter._base_limiter.max_rate == rate


async def test_a_message_that_shows_no_language_keeps_the_users_language(app):
    """ "NATIF", "5S": no diacritics, no common words: the conversation's language, else the phone's."""
    await _push(app, _as(904, _message("NATIF"), "en"))
    labels = _labels(app, 904)
    assert "👍 Helpful" in labels
    await _push(app, _as(905, _message("Nhãn hiệu được bảo hộ bao lâu?"), "en"))
    await _push(app, _as(905, _message("5S"), "en"))
    labels = _labels(app, 905)
    assert "👍 Hữu ích" in labels
    await _push(app, _as(905, _message("/help"), "en"))
    assert _to(app, 905)[-1]["text"].startswith("Cách dùng")


async def test_human_before_writing_anything_follows_the_phones_language(app):
    await _push(app, _as(906, _message("/human"), "en"))
    for _ in range(40):  # the notice goes out through the outbox
        if _to(app, 906):
            break
        await asyncio.sleep(0.05)
    assert _to(app, 906) and _to(app, 906)[-1]["text"].startswith("The bot is not connected")


async def test_sources_fit_a_phone_and_the_full_legal_basis_is_one_tap_away(app):
    await _push(app, _message("bằng sáng chế hiệu lực mấy năm"))
    reply = app.request_log.sent("sendMessage")[-1]
    listed = reply["text"].split("Nguồn:", 1)[1]
    assert "Luật Sở hữu trí tuệ 2005 (sửa đổi 2022, 2025)" in listed and "Điều 93" not in listed  # name only
    buttons = [b for row in reply["reply_markup"]["inline_keyboard"] for b in row]
    basis = next(b["callback_data"] for b in buttons if "Căn cứ pháp lý" in b["text"])

    stranger = {**USER, "id": 778, "first_name": "Y"}
    before = len(app.request_log.sent("sendMessage"))
    await _push(app, _owner_press(basis, user=stranger, query_id="other"))  # not their answer: nothing shown
    assert len(app.request_log.sent("sendMessage")) == before

    await _push(app, _owner_press(basis))
    shown = app.request_log.sent("sendMessage")[-1]
    assert "Căn cứ pháp lý" in shown["text"] and "Điều 93" in shown["text"]  # articles, one tap away
    assert "hiệu lực từ" in shown["text"].lower()


def test_the_main_instrument_is_the_first_without_its_articles():
    from bot.answering.texts import main_instrument

    basis = "Luật Sở hữu trí tuệ 2005 (sửa đổi 2009, 2019, 2022, 2025), Điều 4, Điều 87; Nghị định 65/2023/NĐ-CP"
    assert main_instrument(basis) == "Luật Sở hữu trí tuệ 2005 (sửa đổi 2009, 2019, 2022, 2025)"
    assert main_instrument("Nghị định 80/2021/NĐ-CP") == "Nghị định 80/2021/NĐ-CP"


async def test_an_update_handled_again_answers_and_remembers_once(app):
    """The replica that took an update died after storing the question and queuing the answer, before it could
    confirm the update; handled again, the update stores no turn twice, sends no answer twice and is not counted
    against the rate limit a second time."""
    data = _message("nhan hieu duoc bao ho bao lau")
    for _ in range(5):  # the fixture's limit is 4 questions a minute
        update = Update.de_json(data, app.bot)
        await app.update_processor.process_update(update, app.process_update(update))
    texts = [m["text"] for m in app.request_log.sent("sendMessage")]
    assert len([t for t in texts if "10 năm" in t]) == 1 and i18n.t("vi", "common.slow_down") not in texts
    history = app.bot_data.services.store.history(USER["id"], 50)
    assert [(t.role, "10 năm" in t.text) for t in history] == [("user", False), ("assistant", True)]
    await _push(app, _message("con kieu dang thi sao"))  # the next question sees one exchange before it
    assert [t.role for t in app.bot_data.services.store.history(USER["id"], 50)] == ["user", "assistant"] * 2
