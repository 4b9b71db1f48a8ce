"""Structured logs: the ids of the update, the user (pseudonymised) and the ticket on every line, JSON on demand."""

import asyncio
import io
import json
import logging

import pytest

from bot import logs
from bot.reports.export import pseudonymiser
from tests.conftest import changed


@pytest.fixture
def captured(settings, monkeypatch):
    def configure(fmt: str) -> io.StringIO:
        stream = io.StringIO()
        monkeypatch.setattr("sys.stderr", stream)
        logs.configure(changed(settings, {"log_format": fmt}))
        return stream

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield configure
    root.handlers[:] = handlers
    root.setLevel(level)


async def _handle(update_id: int, user_id: int, ticket: int | None) -> None:
    logs.bind(update_id=update_id, user_id=user_id)
    await asyncio.sleep(0)  # another update's task runs meanwhile: its ids must not leak into this one
    if ticket is not None:
        logs.bind(ticket=ticket)
    logging.getLogger("bot.test").info("handled")


def test_json_lines_carry_the_ids_of_their_own_update(captured, settings):
    stream = captured("json")

    async def both():
        await asyncio.gather(_handle(11, 1001, 7), _handle(12, 1002, None))

    asyncio.run(both())
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    by_update = {line["update_id"]: line for line in lines}
    pseudonym = pseudonymiser(settings)
    assert by_update[11]["user"] == pseudonym(1001) and by_update[11]["ticket"] == 7
    assert by_update[12]["user"] == pseudonym(1002) and "ticket" not in by_update[12]
    assert all(line["message"] == "handled" and line["level"] == "INFO" for line in lines)
    assert "1001" not in stream.getvalue() and "1002" not in stream.getvalue()  # nobody's Telegram id in clear


def test_text_lines_keep_the_usual_layout_with_the_ids(captured):
    stream = captured("text")
    asyncio.run(_handle(21, 1001, 3))
    line = stream.getvalue().strip()
    assert " INFO bot.test: handled [update=21 user=u_" in line and line.endswith(" ticket=3]")


def test_a_line_outside_any_update_has_no_ids(captured):
    stream = captured("json")
    logging.getLogger("bot.test").warning("starting")
    assert set(json.loads(stream.getvalue())) == {"ts", "level", "logger", "message"}


def test_an_unknown_format_is_refused_at_start(settings):
    with pytest.raises(ValueError):
        changed(settings, {"log_format": "xml"})
