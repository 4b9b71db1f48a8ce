"""`python -m bot health [--json]` and `GET /healthz`: each part reported, failures exit 1 (and answer 503)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time

import httpx
import pytest

from bot import health
from bot.app import build_services
from bot.cli import main as cli_main
from bot.config import Settings
from tests.conftest import ROOT, SAMPLE_KB
from tests.support.botapi import FakeBotAPI
from tests.support.chroma_server import chroma_server, index_into
from tests.workspace import WEBHOOK_SECRET, bot_env, free_port, indexed_sample, stop_bot, webhook_settings

PARTS = {"database", "vector_store", "index", "outbox"}


@pytest.fixture
def sample(tmp_path, embedder):
    """A freshly indexed sample knowledge base of its own (some tests damage it)."""
    return indexed_sample(tmp_path / "ws", embedder)


@pytest.fixture
def services(sample):
    kb, data = sample
    built = build_services(Settings(_env_file=None, data_dir=data, knowledge_dir=kb))
    yield built
    built.close()


@pytest.fixture
def env(sample, monkeypatch):
    kb, data = sample
    monkeypatch.setenv("DATA_DIR", str(data))
    monkeypatch.setenv("KNOWLEDGE_DIR", str(kb))
    return kb, data


def _health_json(capsys, *extra: str) -> tuple[int, dict]:
    code = cli_main(["health", "--json", *extra])
    return code, json.loads(capsys.readouterr().out)


def test_a_freshly_indexed_knowledge_base_is_healthy(services):
    report = health.check(services)
    assert report["ok"] is True
    checks = report["checks"]
    assert set(checks) == PARTS and all(c["ok"] for c in checks.values())
    assert checks["database"]["dialect"] == "sqlite"
    store = checks["vector_store"]
    assert store["backend"] == "embedded" and store["chunks"] == store["expected_chunks"] > 0
    index = checks["index"]
    assert index["documents"] == 4 and index["last_refresh"] and index["changed_files"] == 0
    assert checks["outbox"] == {**checks["outbox"], "pending": 0, "stuck": False}


def test_the_command_prints_a_summary_and_exits_0(env, capsys):
    assert cli_main(["health"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("health: ok")
    for part in PARTS:
        assert part in out
    code, report = _health_json(capsys)
    assert code == 0 and report["ok"] is True and set(report["checks"]) == PARTS


def test_an_unreachable_database_fails_with_exit_1(env, monkeypatch, capsys):
    # A closed loopback port: refused at once, nothing leaves the machine.
    monkeypatch.setenv("DATABASE_URL", f"postgresql://bot:pw-not-shown@127.0.0.1:{free_port()}/bot")
    code, report = _health_json(capsys)
    assert code == 1 and report["ok"] is False
    database = report["checks"]["database"]
    assert database["ok"] is False and database["dialect"] == "postgresql" and "refused" in database["error"].lower()
    assert report["checks"]["outbox"]["ok"] is False
    # The parts that do not need the database are still checked.
    assert report["checks"]["vector_store"]["ok"] and report["checks"]["index"]["ok"]
    assert cli_main(["health"]) == 1
    out = capsys.readouterr().out
    assert "FAILING" in out and "pw-not-shown" not in out


def test_a_missing_index_fails_and_nothing_is_created(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KNOWLEDGE_DIR", str(tmp_path / "knowledge"))
    code, report = _health_json(capsys)
    assert code == 1 and report["ok"] is False
    checks = report["checks"]
    assert checks["database"]["ok"] and checks["outbox"]["ok"]
    assert not checks["index"]["ok"] and "python -m indexer refresh" in checks["index"]["error"]
    assert not checks["vector_store"]["ok"]
    assert not (tmp_path / "data" / "index").exists()  # a health check only reads


def test_an_unreachable_chroma_server_fails(env, monkeypatch, capsys):
    monkeypatch.setenv("CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("CHROMA_PORT", str(free_port()))
    code, report = _health_json(capsys)
    assert code == 1
    store = report["checks"]["vector_store"]
    assert store["ok"] is False and store["backend"].startswith("server 127.0.0.1:") and store["error"]


def test_chunks_missing_from_the_collection_fail(services):
    from indexer.store import ChunkStore

    store = ChunkStore(services.settings, create=False)
    ids = [cid for cid, _, _ in store.all_entries()]
    store.delete_ids(ids[:2])
    report = health.check(services)
    assert report["ok"] is False
    failing = report["checks"]["vector_store"]
    assert failing["chunks"] == failing["expected_chunks"] - 2 and "refresh" in failing["error"]


def test_files_changed_since_the_refresh_are_reported_not_failed(services, sample):
    kb, _ = sample
    path = next(p for p in sorted(kb.rglob("*.md")) if p.name.lower() != "readme.md")
    later = time.time() + 120
    os.utime(path, (later, later))
    (kb / "new-guide.txt").write_text("Hướng dẫn mới.", encoding="utf-8")
    index = health.check(services)["checks"]["index"]
    assert index["ok"] is True and index["changed_files"] == 2
    assert set(index["changed_examples"]) == {path.relative_to(kb).as_posix(), "new-guide.txt"}


def test_the_outbox_backlog_is_counted(services):
    from bot.handoff import outbox
    from bot.handoff.models import Outbox

    with services.store.session.begin() as s:
        outbox.add(s, 5001, "owner", "notice", "xin chào")
        old = outbox.add(s, 5002, "owner", "notice", "xin chào")
        s.flush()
        old.created_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=health.OUTBOX_STUCK_SECONDS + 60)
        s.add(Outbox(chat_id=5003, role="owner", purpose="notice", text="đã gửi", done=True))
    report = health.check(services)
    box = report["checks"]["outbox"]
    assert box["pending"] == 2 and box["stuck"] is True and box["oldest_pending_seconds"] > health.OUTBOX_STUCK_SECONDS
    assert box["ok"] is True and report["ok"] is True  # a backlog is reported, not a failed replica
    assert "is any replica sending" in health.render(report)


def test_a_failing_part_does_not_hide_the_others(services, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(health, "_outbox", broken)
    report = health.check(services)
    assert report["ok"] is False
    assert report["checks"]["outbox"] == {
        "ok": False,
        "error": "RuntimeError: disk on fire",
        "ms": pytest.approx(0, abs=50),
    }
    assert all(report["checks"][part]["ok"] for part in PARTS - {"outbox"})


def test_the_command_in_its_own_process(env):
    kb, data = env
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "bot", "health", "--json"],
        cwd=ROOT,
        env={**os.environ, "DATA_DIR": str(data), "KNOWLEDGE_DIR": str(kb), "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is True and set(report["checks"]) == PARTS
    assert time.monotonic() - started < 60


@pytest.mark.slow
def test_healthz_in_webhook_mode(tmp_path, embedder):
    kb, data = indexed_sample(tmp_path / "ws", embedder)
    api = FakeBotAPI()
    url = api.start()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = bot_env(api, url, kb, data, **webhook_settings(port))
    log_path = tmp_path / "bot.log"
    with open(log_path, "w") as log:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        api.wait_for_call("setWebhook", timeout=90)
        with httpx.Client(base_url=base, timeout=15) as client:
            answer = _get_when_listening(client, "/healthz")
            assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/json")
            report = answer.json()
            assert report["ok"] is True and set(report["checks"]) == PARTS

            manifest = data / "index" / "manifest.json"
            manifest.rename(manifest.with_suffix(".away"))
            try:
                failing = client.get("/healthz")
            finally:
                manifest.with_suffix(".away").rename(manifest)
            assert failing.status_code == 503 and failing.json()["checks"]["index"]["ok"] is False
            assert client.get("/healthz").status_code == 200

            assert client.post("/healthz", json={}).status_code == 405
            hook = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET, "Content-Type": "application/json"}
            assert client.post("/tg-hook", content=b"{not json", headers=hook).status_code == 400
            assert (
                client.post(
                    "/tg-hook", json={"update_id": 1}, headers={**hook, "X-Telegram-Bot-Api-Secret-Token": "x"}
                ).status_code
                == 403
            )
    finally:
        stop_bot(proc)
        api.stop()
    text = log_path.read_text(encoding="utf-8")
    assert WEBHOOK_SECRET not in text and api.token not in text


def _get_when_listening(client: httpx.Client, path: str) -> httpx.Response:
    """setWebhook comes right after the server listens; allow the first connection a moment."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return client.get(path)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.mark.slow
def test_a_chroma_server_up_then_down(tmp_path):
    """The Chroma server path (CHROMA_HOST): healthy while `chroma run` serves the index, exit 1 once it stops."""
    with chroma_server(tmp_path) as (host, port):
        kb, data = tmp_path / "knowledge", tmp_path / "data"
        shutil.copytree(SAMPLE_KB, kb)
        data.mkdir()
        (data / "models").symlink_to(ROOT / "data" / "models")
        env = {
            **os.environ,
            "DATA_DIR": str(data),
            "KNOWLEDGE_DIR": str(kb),
            "CHROMA_HOST": host,
            "CHROMA_PORT": str(port),
            "HF_HUB_OFFLINE": "1",
        }
        index_into(env)
        up = _health_process(env)
        assert up.returncode == 0, up.stdout + up.stderr
        store = json.loads(up.stdout)["checks"]["vector_store"]
        assert store["ok"] and store["backend"] == f"server {host}:{port}" and store["chunks"] > 0
    down = _health_process(env)
    assert down.returncode == 1
    report = json.loads(down.stdout)
    assert report["checks"]["vector_store"]["ok"] is False and report["checks"]["index"]["ok"] is True


def _health_process(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot", "health", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_duplicate_rate_counts_resends_after_an_unknown_outcome(services):
    """A row sent again after a try that may have been carried out counts as a possible duplicate."""
    box = services.handoff.outbox
    with services.store.session.begin() as s:
        from bot.handoff import outbox

        ids = [outbox.add(s, 5100 + n, "owner", "reply", f"trả lời {n}") for n in range(4)]
        s.flush()
        ids = [row.id for row in ids]
    for row_id in ids:
        box.lease(5100 + ids.index(row_id), 1)
    assert box.retry_later(ids[0], "RemoteProtocolError", uncertain=True, wait=0)
    assert box.retry_later(ids[1], "ConnectError", wait=0)  # refused before it left: no duplicate possible
    for row_id in ids[:3]:
        box.mark_sent(row_id, 1)
    day = health.check(services)["checks"]["outbox"]["last_24h"]
    assert day == {**day, "sent": 3, "resent_after_unknown_outcome": 1, "pending": 1, "duplicate_rate": round(1 / 3, 4)}
