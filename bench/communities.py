"""One process serving a street office of many communities (issue #13).

Figures:
- `communities_100_start_s`: a fresh process opens a SQLite database and builds every
  community of a folder of 100 community files (each with its own grids, workers, groups and
  classifier words: places, notices, slang, an extra keyword) — what `gridbot run` does before
  it serves, from its first import to ready; median of three processes.
- `communities_100_rss_mb`: the resident memory of that process once all 100 are built.
- `communities_1_start_s`, `communities_1_rss_mb`: the same for one community, beside it.

Targets: communities_100_rss_mb ≤ 300, communities_100_start_s ≤ 5.
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench._common import figure, note

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "community.toml"

CHILD = r"""
import asyncio, json, resource, sys, time
started = time.perf_counter()
from pathlib import Path
from zoneinfo import ZoneInfo
from bot.services.clock import SystemClock
from bot.services.street import Street, read_folder
from storage import open_database

async def main() -> None:
    folder, db_path = Path(sys.argv[1]), sys.argv[2]
    db = open_database(db_path)
    await db.open()
    street = Street(db, SystemClock(), ZoneInfo("Asia/Shanghai"), path=folder)
    await street.load(*read_folder(folder))
    ready = time.perf_counter() - started
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"start_s": ready, "rss_mb": rss, "communities": len(street.names())}))
    await db.close()

asyncio.run(main())
"""


def community_file(i: int) -> str:
    """The example community as community number i: its own name, groups, people and words."""
    text = EXAMPLE.read_text(encoding="utf-8").replace("example = true", "")
    text = text.replace("幸福里社区", f"第{i}社区")
    text = text.replace("-10010000000", f"-1{i:03d}0000000")
    text = re.sub(r"telegram_id = (\d+)", lambda m: f"telegram_id = {i * 10000 + int(m[1])}", text)
    return (
        text
        + f"""
[classifier]
places = ["{i}号会所", "东苑{i}"]
notices = ["第{i}社区通告"]
keywords = {{ parking = ["{i}号车库:2"] }}

[classifier.slang]
"电梯又歇{i}" = "电梯坏了"
"""
    )


def run_once(folder: Path, tmp: Path, n: int) -> dict[str, float]:
    db_path = tmp / f"bench-{n}-{len(list(tmp.iterdir()))}.sqlite3"
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(folder), str(db_path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    if result["communities"] != n:
        raise SystemExit(f"expected {n} communities, built {result['communities']}")
    return result


def measure(n: int, tmp: Path) -> tuple[float, float]:
    folder = tmp / f"street-{n}"
    folder.mkdir()
    for i in range(1, n + 1):
        (folder / f"c{i:03d}.toml").write_text(community_file(i), encoding="utf-8")
    runs = [run_once(folder, tmp, n) for _ in range(3)]
    start = statistics.median(r["start_s"] for r in runs)
    rss = statistics.median(r["rss_mb"] for r in runs)
    note(f"{n} communities: start {[round(r['start_s'], 2) for r in runs]} s, rss {rss:.0f} MB")
    return start, rss


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="gridbot-bench-") as name:
        tmp = Path(name)
        one_start, one_rss = measure(1, tmp)
        start, rss = measure(100, tmp)
    figure("communities_1_start_s", one_start, "s")
    figure("communities_1_rss_mb", one_rss, "MB")
    figure("communities_100_start_s", start, "s")
    figure("communities_100_rss_mb", rss, "MB")


if __name__ == "__main__":
    main()
