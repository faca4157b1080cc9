"""A throwaway PostgreSQL server for a benchmark, started the way scripts/test.sh starts one.

initdb into a temporary folder (as the `postgres` user when running as root, which PostgreSQL
refuses), listen on 127.0.0.1 at a free port, durability off (fsync, synchronous_commit,
full_page_writes: a benchmark database is thrown away), and remove it all on exit.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


def pg_bin() -> Path | None:
    """Return the folder holding initdb and pg_ctl, or None when no server is installed."""
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def pg_server(database: str = "gridbot_bench") -> Iterator[str | None]:
    """Start a server, create `database`, yield its URL (None without a server); stop it after."""
    folder = pg_bin()
    if folder is None:
        yield None
        return
    tmp = Path(tempfile.mkdtemp(prefix="gridbot-bench-pg."))
    as_user: list[str] = []
    if os.geteuid() == 0:
        # root may not run postgres; the packaged 'postgres' user does (as in scripts/test.sh).
        subprocess.run(["id", "-u", "postgres"], check=True, capture_output=True)
        shutil.chown(tmp, user="postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    data = tmp / "data"
    started = False
    try:
        subprocess.run(
            [
                *as_user,
                str(folder / "initdb"),
                "-D",
                str(data),
                "-U",
                "gridbot",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
            check=True,
            capture_output=True,
        )
        options = (
            f"-h 127.0.0.1 -p {port} -k {tmp} -c fsync=off -c synchronous_commit=off"
            " -c full_page_writes=off -c shared_buffers=256MB -c max_wal_size=4GB"
        )
        subprocess.run(
            [
                *as_user,
                str(folder / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(tmp / "server.log"),
                "-w",
                "-s",
                "-o",
                options,
                "start",
            ],
            check=True,
            capture_output=True,
        )
        started = True
        subprocess.run(
            [
                str(folder / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "gridbot",
                database,
            ],
            check=True,
            capture_output=True,
        )
        yield f"postgresql://gridbot@127.0.0.1:{port}/{database}"
    finally:
        if started:
            subprocess.run(
                [
                    *as_user,
                    str(folder / "pg_ctl"),
                    "-D",
                    str(data),
                    "stop",
                    "-m",
                    "immediate",
                    "-s",
                ],
                check=False,
                capture_output=True,
            )
        shutil.rmtree(tmp, ignore_errors=True)
