"""Several instances on one PostgreSQL (bot/fleet.py): intake with two against one, failover.

Each instance is a process of its own (bench/_fleet_member.py: the real bot in webhook mode,
the Bot API answered from memory) on one throwaway PostgreSQL server (bench/_pgserver.py).

- `pg_intake_1_per_s`, `pg_intake_2_per_s`: complaints in many groups stored (as the webhook
  does), processed and their messages delivered, by one instance or by two (each stores half,
  as behind a load balancer; either may run what the other stored). `pg_intake_2_vs_1` is
  their ratio, measured side by side, median of three. `pg_intake_cpu_2_vs_1`: the CPU time
  (both instances and the server) per complaint with two against one: what coordinating
  costs. One instance already keeps about 1.5 cores busy (the bot's process and the server's),
  so on a 2-core machine two instances can add little speed; the ratio wants 4 cores or more.
- `failover_s`: two instances take a steady stream of complaints; the leader is killed
  (SIGKILL) mid-run; the time until the other has delivered a message and run the schedule job
  (the later of the two), median of three.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench._common import figure, note
from bench._fleet_member import group_chat
from bench._pgserver import pg_server
from bench.intake import REPO

TOTAL = 1200
CHATS = 40
ROUNDS = 3


class Member:
    """One instance: a process that takes commands and tells events as JSON lines."""

    def __init__(self, url: str, config: Path, log: Path) -> None:
        self.log = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench._fleet_member", url, str(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            cwd=REPO,
            env={**os.environ, "PTB_TIMEDELTA": "true"},
        )
        self.events: list[dict[str, Any]] = []

    def say(self, *words: object) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((" ".join(map(str, words)) + "\n").encode())
        self.proc.stdin.flush()

    def expect(self, event: str) -> dict[str, Any]:
        """Read events until `event` comes (they are kept in self.events)."""
        assert self.proc.stdout is not None
        while True:
            raw = self.proc.stdout.readline()
            if not raw:
                raise RuntimeError(f"instance exited before {event!r}; see {self.log.name}")
            found = json.loads(raw)
            self.events.append(found)
            if found["event"] == event:
                return found

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(BrokenPipeError):
                assert self.proc.stdin is not None
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@contextlib.contextmanager
def fleet(url: str, config: Path, folder: Path, size: int) -> Iterator[list[Member]]:
    members: list[Member] = []
    try:
        for index in range(size):
            member = Member(url, config, folder / f"member-{index}.log")
            members.append(member)
            member.expect("ready")
            if index == 0:
                member.expect("lead")  # the first leads: the others follow
        yield members
    finally:
        for member in members:
            member.stop()


def write_config(folder: Path) -> Path:
    """The example community with CHATS more groups, each bound to every grid."""
    text = (REPO / "examples" / "community.toml").read_text(encoding="utf-8")
    for index in range(CHATS):
        text += (
            f'\n[[groups]]\nchat_id = {group_chat(index)}\ntitle = "业主群{index}"\n'
            'grids = ["g1", "g2", "g3"]\n'
        )
    path = folder / "community.toml"
    path.write_text(text, encoding="utf-8")
    return path


def fresh(url: str, name: str) -> str:
    """A URL whose search_path is a new empty schema (the leader's lock is per schema too)."""
    subprocess.run(
        [sys.executable, "-c", _CREATE, url, name], check=True, capture_output=True, cwd=REPO
    )
    return f"{url}?search_path={name}"


_CREATE = """
import asyncio, sys, asyncpg
async def main():
    conn = await asyncpg.connect(sys.argv[1])
    await conn.execute(f"CREATE SCHEMA {sys.argv[2]}")
    await conn.close()
asyncio.run(main())
"""


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu_s(port: int) -> float:
    """CPU seconds of the benchmark's PostgreSQL server: its postmaster and the backends."""
    processes: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                processes[int(entry.name)] = (int(stat[1]), command)
    roots = {pid for pid, (_, command) in processes.items() if f"-p {port} " in command}
    total = 0.0
    for pid, (parent, _) in processes.items():
        if pid in roots or parent in roots:
            with contextlib.suppress(OSError):
                total += cpu_s(pid)
    return total


def intake(url: str, config: Path, folder: Path, size: int, first: int) -> tuple[float, float]:
    """Complaints per second through `size` instances, and CPU ms per complaint (all of it)."""
    port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
    url = fresh(url, f"intake_{size}_{first}")
    with fleet(url, config, folder, size) as members:
        # Warm up every instance (imports, jieba, caches) on updates of its own.
        for index, member in enumerate(members):
            member.say("accept", 1 + index * 100, 30, 1, 0, CHATS)
            member.expect("accepted")
        members[0].say("wait", 1, 100 * size)
        members[0].expect("done")
        used = sum(cpu_s(m.proc.pid) for m in members) + server_cpu_s(port)
        started = time.time()
        for index, member in enumerate(members):
            member.say("accept", first, TOTAL, size, index, CHATS)
        for member in members:
            member.expect("accepted")
        members[0].say("wait", first, first + TOTAL)
        finished = members[0].expect("done")["t"]
        used = sum(cpu_s(m.proc.pid) for m in members) + server_cpu_s(port) - used
        return TOTAL / (finished - started), used * 1000 / TOTAL


def failover(url: str, config: Path, folder: Path, round_: int) -> float:
    """Seconds from the leader's death to delivery and schedules on the other instance."""
    url = fresh(url, f"failover_{round_}")
    with fleet(url, config, folder, 2) as (leader, follower):
        first = 10_000
        for batch in range(3):  # a steady stream before the kill
            for index, member in enumerate((leader, follower)):
                member.say("accept", first + batch * 40, 40, 2, index, CHATS)
                member.expect("accepted")
        killed = time.time()
        os.kill(leader.proc.pid, signal.SIGKILL)
        leader.proc.wait()
        follower.say("accept", first + 200, 40, 1, 0, CHATS)  # the stream goes on
        follower.expect("accepted")
        lead = follower.expect("lead")["t"]
        sent = follower.expect("sent")["t"]
        job = follower.expect("job")["t"]
        note(
            f"failover: led after {lead - killed:.2f} s, delivered after {sent - killed:.2f} s,"
            f" schedule job after {job - killed:.2f} s"
        )
        return max(sent, job) - killed


def main() -> None:
    with (
        pg_server("gridbot_fleet") as url,
        tempfile.TemporaryDirectory(prefix="gridbot-bench-fleet-") as tmp,
    ):
        if url is None:
            note("no PostgreSQL server installed (initdb, pg_ctl): fleet benchmark skipped")
            return
        folder = Path(tmp)
        config = write_config(folder)
        rates: dict[int, list[float]] = {1: [], 2: []}
        costs: dict[int, list[float]] = {1: [], 2: []}
        for round_ in range(ROUNDS):  # side by side, alternating, median of three
            for size in (1, 2):
                per_s, cost = intake(url, config, folder, size, 100_000 + round_ * 10_000)
                rates[size].append(per_s)
                costs[size].append(cost)
                note(
                    f"intake with {size} instance(s): {per_s:.0f} complaints/s,"
                    f" {cost:.2f} CPU ms each (bot and PostgreSQL)"
                )
        one, two = statistics.median(rates[1]), statistics.median(rates[2])
        figure("pg_intake_1_per_s", one, "complaints/s")
        figure("pg_intake_2_per_s", two, "complaints/s")
        figure("pg_intake_2_vs_1", two / one, "x")
        # What two instances cost over one in CPU per complaint (1.0: coordination is free).
        figure(
            "pg_intake_cpu_2_vs_1", statistics.median(costs[2]) / statistics.median(costs[1]), "x"
        )
        note(f"cores: {os.cpu_count()}; load average: {os.getloadavg()[0]:.2f}")
        times = [failover(url, config, folder, r) for r in range(ROUNDS)]
        figure("failover_s", statistics.median(times), "s")


if __name__ == "__main__":
    main()
