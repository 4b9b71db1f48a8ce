"""A throwaway PostgreSQL server for tests, when the machine has PostgreSQL's programs (else the test skips)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path

from tests.workspace import free_port


def _bin_dir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(versions[-1]).parent if versions else None


@contextmanager
def postgres_server():
    """Yield a SQLAlchemy URL of a fresh server; None when PostgreSQL is not installed or cannot start here."""
    bin_dir = _bin_dir()
    root = Path(tempfile.mkdtemp(prefix="pg-test-"))
    data, port = root / "data", free_port()
    as_user: list[str] = []
    url = None
    try:
        if bin_dir is not None:
            if os.geteuid() == 0:  # initdb refuses to run as root
                shutil.chown(root, "postgres")
                as_user = ["runuser", "-u", "postgres", "--"]
            subprocess.run(
                [
                    *as_user,
                    str(bin_dir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "test",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                ],
                check=True,
                capture_output=True,
                timeout=120,
            )
            subprocess.run(
                [
                    *as_user,
                    str(bin_dir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-w",
                    "-l",
                    str(root / "log"),
                    "-o",
                    f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off",
                    "start",
                ],
                check=True,
                capture_output=True,
                timeout=120,
            )
            url = f"postgresql://test@127.0.0.1:{port}/postgres"
    except (OSError, LookupError, subprocess.SubprocessError) as exc:  # no postgres user, no runuser, …
        warnings.warn(f"PostgreSQL tests skipped: the server did not start ({exc})", stacklevel=1)
    try:
        yield url
    finally:
        if url is not None:
            subprocess.run(
                [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                check=False,
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(root, ignore_errors=True)


def create_database(server_url: str, name: str) -> str:
    """A new, empty database on the server; returns its URL."""
    import sqlalchemy as sa

    admin = sa.create_engine(server_url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return server_url.rsplit("/", 1)[0] + f"/{name}"
