"""A real Chroma server (`chroma run` from the chromadb package) on loopback, for tests of the CHROMA_HOST path."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.conftest import ROOT
from tests.workspace import free_port, stop_bot


@contextlib.contextmanager
def chroma_server(root: Path) -> Iterator[tuple[str, int]]:
    """Serve a Chroma database under `root` until the block ends; yields (host, port)."""
    port = free_port()
    with open(root / "chroma.log", "w") as log:
        server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "chroma"),
                "run",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--path",
                str(root / "chroma"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_heartbeat(f"http://127.0.0.1:{port}/api/v2/heartbeat", server)
        yield "127.0.0.1", port
    finally:
        stop_bot(server)  # SIGTERM, SIGKILL if it lingers: ends any child process the same way


def _wait_for_heartbeat(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            raise AssertionError("the Chroma server did not start")
        time.sleep(0.3)


def index_into(env: dict) -> None:
    """`python -m indexer refresh` in its own process: an HTTP client here would leave sockets open."""
    done = subprocess.run(
        [sys.executable, "-m", "indexer", "refresh"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
