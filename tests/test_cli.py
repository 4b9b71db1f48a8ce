"""`python -m bot` commands run in-process (sharing the session's model): setup, warmup, eval, start, run, and
settings that cannot work."""

import io
import json
import sys

import pytest

from bot.cli import main as cli_main
from tests.workspace import indexed_sample


@pytest.fixture(scope="module")
def sample(tmp_path_factory, embedder):
    return indexed_sample(tmp_path_factory.mktemp("cli"), embedder)


@pytest.fixture
def env(sample, monkeypatch):
    kb, data = sample
    monkeypatch.setenv("DATA_DIR", str(data))
    monkeypatch.setenv("KNOWLEDGE_DIR", str(kb))
    return kb, data


def test_setup_reports_the_model(env, capsys):
    assert cli_main(["setup"]) == 0
    assert "embedding model ready" in capsys.readouterr().out


def test_warmup_fills_the_answer_caches_once(env, capsys):
    assert cli_main(["warmup"]) == 0
    first = capsys.readouterr().out
    assert "answer caches ready" in first
    assert cli_main(["warmup"]) == 0
    assert "(0 new)" in capsys.readouterr().out  # the cache file is kept under DATA_DIR/cache


def test_commands_that_answer_need_an_index(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    for command in (["warmup"], ["ask", "nhãn hiệu bảo hộ bao lâu"]):
        assert cli_main(command) == 2
        assert "python -m indexer refresh" in capsys.readouterr().err


def test_eval_prints_the_engine_and_the_baselines(env, tmp_path, capsys):
    rows = [
        {"id": "t1", "question": "nhan hieu bao ho bao lau", "doc_ids": ["ip-trademark-term"], "key_fact": "10 năm"},
        {"id": "t2", "question": "Giá vàng hôm nay bao nhiêu?", "out_of_scope": True},
    ]
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    assert cli_main(["eval", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert "engine" in report and len(report) >= 3  # the engine and its baselines


def test_start_without_a_token_opens_the_console(env, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("nhan hieu bao ho bao lau\n/quit\n"))
    assert cli_main(["start"]) == 0
    out = capsys.readouterr().out
    assert "10 năm" in out and "Nguồn" in out


def test_run_without_a_token_explains(env, capsys):
    assert cli_main(["run"]) == 2
    err = capsys.readouterr().err
    assert "TELEGRAM_BOT_TOKEN" in err and "python -m bot chat" in err


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"WORKING_HOURS": "8h-17h"}, "WORKING_HOURS"),
        ({"WORKING_DAYS": "mon-fri"}, "WORKING_DAYS"),
        ({"TIMEZONE": "Asia/Hanoi_City"}, "TIMEZONE"),
        ({"ADMIN_IDS": "123,abc"}, "ADMIN_IDS"),
        ({"LLM_PROVIDER": "skynet", "LLM_MODEL": "x"}, "LLM_PROVIDER"),
        ({"LLM_PROVIDER": "openai"}, "LLM_MODEL"),
        ({"WEBHOOK_URL": "https://bot.example.vn/hook"}, "WEBHOOK_SECRET"),
        ({"WEBHOOK_URL": "https://bot.example.vn/hook", "WEBHOOK_SECRET": "has spaces"}, "WEBHOOK_SECRET"),
    ],
)
def test_settings_that_cannot_work_stop_the_start_with_a_clear_message(env, monkeypatch, capsys, variables, named):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:SECRET-TOKEN-VALUE")
    for key, value in variables.items():
        monkeypatch.setenv(key, value)
    assert cli_main(["run"]) == 2
    err = capsys.readouterr().err
    assert named in err and "SECRET-TOKEN-VALUE" not in err


def test_secrets_never_print():
    from bot.config import Settings

    settings = Settings(_env_file=None, telegram_bot_token="123:SECRET", llm_api_key="sk-SECRET")
    assert "SECRET" not in repr(settings) and "SECRET" not in str(settings.model_dump())
    assert settings.token == "123:SECRET"


def test_questions_from_the_command_line_are_answered_with_the_sentence_vectors(env, tmp_path, capsys):
    # A fresh index has no sentence vectors yet: `ask` and `eval` must not answer on words alone meanwhile
    # (the answers would differ from the running bot's), so a batch fills the cache first and one question
    # embeds what it needs; both keep the vectors for the next run.
    _, data = env
    cache = next((data / "cache").glob("sentence-vectors-*"), None)
    if cache:
        cache.unlink()
    assert cli_main(["ask", "nhan hieu bao ho bao lau", "--json"]) == 0
    capsys.readouterr()
    cache = next((data / "cache").glob("sentence-vectors-*"))
    one = cache.stat().st_size
    batch = tmp_path / "in.jsonl"
    batch.write_text(json.dumps({"id": "q1", "question": "sáng chế bảo hộ bao lâu"}, ensure_ascii=False) + "\n")
    assert cli_main(["ask", "--batch", str(batch), "--json"]) == 0
    captured = capsys.readouterr()
    assert "preparing the answer caches" in captured.err and json.loads(captured.out)["id"] == "q1"
    assert cache.stat().st_size > one
    assert cli_main(["warmup"]) == 0
    assert "(0 new)" in capsys.readouterr().out
