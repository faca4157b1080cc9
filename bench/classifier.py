"""Classifier speed: bare jieba.lcut vs full classify on the same messages; start-up; memory."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from bench._common import figure, note

REPO = Path(__file__).resolve().parent.parent
DEV = REPO / "eval" / "dev.tsv"
MESSAGES = 4000
REPEATS = 5

# Runs in a fresh interpreter so jieba's cache load and the lexicons are timed from cold imports.
_LOAD_SCRIPT = """
import json, time, resource
t0 = time.perf_counter()
from bot.nlp import Classifier
clf = Classifier.load()
load = time.perf_counter() - t0
clf.classify("4号楼电梯又坏了，关人了！快来人")
rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"load_s": load, "rss_mb": rss_kb / 1024}))
"""


def _messages() -> list[str]:
    lines = DEV.read_text(encoding="utf-8").splitlines()[1:]
    texts = [line.split("\t", 2)[2] for line in lines if line.count("\t") >= 2]
    return [texts[i % len(texts)] for i in range(MESSAGES)]


def _fresh_load() -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", _LOAD_SCRIPT],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    """Print jieba_msgs_per_s, classify_msgs_per_s, classify_vs_jieba, load time and memory."""
    import jieba

    from bot.nlp import Classifier

    jieba.setLogLevel(60)
    jieba.initialize()
    clf = Classifier.load()
    messages = _messages()
    note(f"{len(messages)} messages (dev.tsv cycled), median of {REPEATS} runs, side by side")

    def time_jieba() -> float:
        start = time.perf_counter()
        for text in messages:
            jieba.lcut(text)
        return time.perf_counter() - start

    def time_classify() -> float:
        start = time.perf_counter()
        for text in messages:
            clf.classify(text)
        return time.perf_counter() - start

    time_jieba()
    time_classify()  # warm up both
    pairs = [(time_jieba(), time_classify()) for _ in range(REPEATS)]
    jieba_s = sorted(p[0] for p in pairs)[REPEATS // 2]
    classify_s = sorted(p[1] for p in pairs)[REPEATS // 2]
    ratio = sorted(c / j for j, c in pairs)[REPEATS // 2]
    figure("jieba_msgs_per_s", len(messages) / jieba_s, "msg/s")
    figure("classify_msgs_per_s", len(messages) / classify_s, "msg/s")
    figure("classify_vs_jieba", ratio, "x")
    loads = [_fresh_load() for _ in range(3)]
    figure("classifier_load_s", sorted(x["load_s"] for x in loads)[1], "s")
    figure("classifier_rss_mb", sorted(x["rss_mb"] for x in loads)[1], "MB")


if __name__ == "__main__":
    main()
