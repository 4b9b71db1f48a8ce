"""`python -m bot chat`: the conversation in a terminal, for people without a bot token."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from bot.answering.engine import format_sources

if TYPE_CHECKING:
    from bot.app import Services

WELCOME = (
    "Trợ lý tư vấn của Trung tâm Ứng dụng tiến bộ KH&CN (bản dòng lệnh).\n"
    "Hỏi về sở hữu trí tuệ, chuyển giao công nghệ, cải tiến quy trình, chương trình hỗ trợ, khởi nghiệp.\n"
    "Lệnh: /new (quên ngữ cảnh), /human (gặp chuyên gia), /help, /quit."
)
HISTORY_TURNS = 6
CONSOLE_USER = 0  # the console's conversations are stored like a Telegram user's, under this id


def run_console(services: Services, stdin=None, stdout=None) -> int:
    stdin = stdin or sys.stdin
    out = stdout or sys.stdout
    print("Đang nạp mô hình…", file=out, flush=True)
    engine, store = services.engine, services.store
    print(WELCOME, file=out, flush=True)
    while True:
        print("\nBạn> ", end="", file=out, flush=True)
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
            print(WELCOME, file=out)
            continue
        if command == "/new":
            store.new_context(CONSOLE_USER)
            print("Đã bắt đầu cuộc trò chuyện mới.", file=out)
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
            print("\nNguồn:" if answer.language == "vi" else "\nSources:", file=out)
            print(format_sources(answer.sources, answer.language), file=out)
        if answer.handoff_suggested and answer.kind != "handoff_request":
            print("\n(Gõ /human để chuyển câu hỏi tới chuyên gia của Trung tâm.)", file=out)
        if answer.kind == "handoff_request":
            print(
                f"\n(Yêu cầu gặp chuyên gia đã được ghi lại, mã #{ref}. Bản dòng lệnh không có chuyên gia trực "
                "tuyến: nhân viên Trung tâm thấy yêu cầu này trong báo cáo /gaps; trên Telegram, câu hỏi được "
                "chuyển ngay tới nhóm chuyên gia.)",
                file=out,
            )
        out.flush()
