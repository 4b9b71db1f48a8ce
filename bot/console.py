"""`python -m bot chat`: the conversation in a terminal, for people without a bot token."""

from __future__ import annotations

import sys

from bot.answering.engine import format_sources
from bot.answering.types import Turn
from indexer.config import Settings

WELCOME = (
    "Trợ lý tư vấn của Trung tâm Ứng dụng tiến bộ KH&CN (bản dòng lệnh).\n"
    "Hỏi về sở hữu trí tuệ, chuyển giao công nghệ, cải tiến quy trình, chương trình hỗ trợ, khởi nghiệp.\n"
    "Lệnh: /new (quên ngữ cảnh), /human (gặp chuyên gia), /help, /quit."
)
HISTORY_TURNS = 6


def run_console(settings: Settings, stdin=None, stdout=None) -> int:
    from bot.app import build_engine
    from indexer.pipeline import manifest_path

    stdin = stdin or sys.stdin
    out = stdout or sys.stdout
    if not manifest_path(settings).exists():
        print("Chưa có chỉ mục tài liệu. Chạy trước: python -m indexer refresh", file=out)
        return 2
    print("Đang nạp mô hình…", file=out, flush=True)
    engine = build_engine(settings)
    print(WELCOME, file=out, flush=True)
    history: list[Turn] = []
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
            history.clear()
            print("Đã bắt đầu cuộc trò chuyện mới.", file=out)
            continue
        if command == "/human":
            text = "tôi muốn gặp chuyên gia"
        answer = engine.answer(text, history)
        print(f"\nBot> {answer.answer}", file=out)
        if answer.sources:
            print("\nNguồn:" if answer.language == "vi" else "\nSources:", file=out)
            print(format_sources(answer.sources, answer.language), file=out)
        if answer.handoff_suggested and answer.kind != "handoff_request":
            print("\n(Gõ /human để chuyển câu hỏi tới chuyên gia của Trung tâm.)", file=out)
        if answer.kind == "handoff_request":
            print("\n(Trong bản dòng lệnh không có chuyên gia trực tuyến; trên Telegram, câu hỏi của bạn được chuyển "
                  "tới nhóm chuyên gia của Trung tâm.)", file=out)
        history.extend([Turn("user", text), Turn("assistant", answer.answer)])
        del history[:-HISTORY_TURNS]
        out.flush()
