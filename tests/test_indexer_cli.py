"""The indexer command line as staff and other tools use it (real processes, offline)."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT, SAMPLE_KB

pytestmark = pytest.mark.slow


def _run(args, env):
    return subprocess.run(
        [sys.executable, "-m", "indexer", *args],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_refresh_status_search_offline(tmp_path):
    kb = tmp_path / "kb"
    shutil.copytree(SAMPLE_KB, kb)
    (kb / "ip" / "broken.pdf").write_bytes(b"%PDF-1.4 broken")
    data = tmp_path / "data"
    data.mkdir()
    (data / "models").symlink_to(ROOT / "data" / "models")
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "DATA_DIR": str(data),
        "KNOWLEDGE_DIR": str(kb),
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
    }
    first = _run(["refresh"], env)
    assert first.returncode == 0, first.stderr
    assert "added 4" in first.stdout and "failed 1" in first.stdout
    assert "broken.pdf" in first.stderr
    second = _run(["refresh"], env)
    assert second.returncode == 0 and "unchanged 4" in second.stdout and "0 chunks embedded" in second.stdout

    status = json.loads(_run(["status", "--json"], env).stdout)
    assert {"documents", "chunks", "model", "last_refresh", "stale", "failed"} <= set(status)
    assert status["documents"] == 4 and status["failed"][0]["path"] == "ip/broken.pdf"
    assert status["failed"][0]["reason"]

    found = _run(["search", "thời hạn bảo hộ nhãn hiệu", "-k", "2"], env)
    assert found.returncode == 0
    assert "ip-trademark-term" in found.stdout.splitlines()[0]


def test_missing_knowledge_dir_fails(tmp_path):
    env = {**os.environ, "DATA_DIR": str(tmp_path / "d"), "KNOWLEDGE_DIR": str(tmp_path / "nope")}
    result = _run(["refresh"], env)
    assert result.returncode != 0 and "not found" in result.stderr
