"""`python -m bot chat`: the conversation in a terminal, for people without a bot token."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from bot.answering.engine import format_sources
from bot.i18n import t

if TYPE_CHECKING:
    from bot.app import Services

HISTORY_TURNS = 6
CONSOLE_USER = 0  # the console's conversations are stored like a Telegram user's, under this id
LANG = "vi"  # the console's own words; answers and their source lists follow the question's language


def run_console(services: Services, stdin=None, stdout=None) -> int:
    stdin = stdin or sys.stdin
    out = stdout or sys.stdout
    print(t(LANG, "console.loading"), file=out, flush=True)
    engine, store = services.engine, services.store
    print(t(LANG, "console.welcome"), file=out, flush=True)
    while True:
        print(f"\n{t(LANG, 'console.you')} ", end="", file=out, flush=True)
        line = stdin.readline()
        if not line:
            print(file=out)
            return 0
        text = line.strip()
        if not text:
            continue
        command = text.split()[0].lower()
        if command in ("/quit", "/exit"):
            return 0
        if command in ("/help", "/start"):
            print(t(LANG, "console.welcome"), file=out)
            continue
        if command == "/new":
            store.new_context(CONSOLE_USER)
            print(t(LANG, "console.new"), file=out)
            continue
        if command == "/human":
            text = "tôi muốn gặp chuyên gia"
        history = store.history(CONSOLE_USER, HISTORY_TURNS)
        answer = engine.answer(text, history)
        store.add_turn(CONSOLE_USER, "user", text)
        ref = store.add_turn(
            CONSOLE_USER,
            "assistant",
            answer.answer,
            {
                "kind": answer.kind,
                "confidence": answer.confidence,
                "topic": answer.topic,
                "sources": [s.doc_id for s in answer.sources],
                "channel": "console",
            },
        )
        print(f"\nBot> {answer.answer}", file=out)
        if answer.sources:
            print(f"\n{t(answer.language, 'common.sources')}:", file=out)
            print(format_sources(answer.sources, answer.language), file=out)
        if answer.handoff_suggested and answer.kind != "handoff_request":
            print("\n" + t(LANG, "console.handoff_hint"), file=out)
        if answer.kind == "handoff_request":
            print("\n" + t(LANG, "console.handoff_recorded", ref=ref), file=out)
        out.flush()
