"""Helpers shared by the benchmarks: print one figure as a JSON line."""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Callable


def figure(name: str, value: float, unit: str) -> None:
    """Print one figure in the convention of ../shared/BENCHMARKS.md."""
    print(json.dumps({"name": name, "value": round(value, 4), "unit": unit}), flush=True)


def note(text: str) -> None:
    """Print commentary to stderr."""
    print(text, file=sys.stderr, flush=True)


def median_of(repeats: int, run: Callable[[], float]) -> float:
    """Run a timing function several times and return the median."""
    return statistics.median(run() for _ in range(repeats))
