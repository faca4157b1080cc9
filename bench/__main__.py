"""Run benchmarks: `python -m bench` runs all, `python -m bench NAME` runs one.

Each benchmark is a module bench/<NAME>.py with `main() -> None` that prints JSON lines
({"name", "value", "unit"}) on stdout and commentary on stderr.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def _names() -> list[str]:
    folder = Path(__file__).parent
    return sorted(
        m.name for m in pkgutil.iter_modules([str(folder)]) if not m.name.startswith("_")
    )


def main(argv: list[str]) -> int:
    names = _names()
    chosen = argv or names
    unknown = [n for n in chosen if n not in names]
    if unknown:
        print(
            f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(names)}",
            file=sys.stderr,
        )
        return 2
    for name in chosen:
        print(f"== bench {name}", file=sys.stderr)
        importlib.import_module(f"bench.{name}").main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
