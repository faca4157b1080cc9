"""Many communities' classifiers in one process: what each adds over the shared lexicons.

One fresh interpreter loads the default classifier, then 100 community classifiers, each with
its own places, notice phrases, slang, keywords and learned weights (as Learner.load leaves
them), and has each read a few messages. Figures: classifiers_100_extra_mb (resident memory
the 100 add), classifiers_100_build_s (their load and apply_learned), apply_learned_ms (one
community's learned weights installed again), overlay_classify_vs_base (a community's classify
time / the default classifier's, same messages, side by side).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench._common import figure, note

REPO = Path(__file__).resolve().parent.parent
COMMUNITIES = 100

# Only the public API: the same script measures the code before the overlay.
_SCRIPT = """
import gc, json, resource, statistics, sys, time
from pathlib import Path
from bot.nlp import Classifier

repo = Path(sys.argv[1])
def texts(name):
    lines = (repo / "eval" / name).read_text(encoding="utf-8").splitlines()[1:]
    return [line.split("\\t", 2)[2] for line in lines if line.count("\\t") >= 2]
dev, train = texts("dev.tsv"), texts("train.tsv")

def rss_mb():
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

FIRST, SECOND = "东西南北中金银玉翠青", "苑园庭湾府城峰轩阁居"
def overrides(i):
    name = FIRST[i // 10] + FIRST[i % 10] + SECOND[i % 10]
    return {
        "places": [name + "会所", name + "广场", "篮球场"],
        "notices": [name + "通告", name + "温馨提示"],
        "slang": {name + "部梯": "电梯", "梯死咗" + name[0]: "电梯坏了"},
        "keywords": {"parking": [name + "车位:2"], "property": [name + "管家:1.5"]},
    }

def learned(clf, i):
    codes = [c for c in clf.categories if c != "other"]
    weights = {}
    for k, text in enumerate(train[i * 7 : i * 7 + 30]):
        for j, word in enumerate(clf.salient_words(text, limit=3)):
            code = "none" if (k + j) % 5 == 0 else codes[(i + k + j) % len(codes)]
            weights[(word, code)] = 0.4 * (1 + (k % 3)) * (-1 if k % 4 == 0 else 1)
    return weights, {key: 1 for key in weights}

base = Classifier.load()
for text in dev:
    base.classify(text)
lessons = [learned(base, i) for i in range(int(sys.argv[2]))]
gc.collect()
rss_before = rss_mb()
start = time.perf_counter()
communities = []
for i, lesson in enumerate(lessons):
    clf = Classifier.load(overrides(i))
    clf.apply_learned(*lesson)
    communities.append(clf)
build_s = time.perf_counter() - start
for i, clf in enumerate(communities):
    for text in dev[(i * 13) % 300 :][:50]:
        clf.classify(text)
gc.collect()
extra_mb = rss_mb() - rss_before

one = communities[0]
weights, counts = one.learned_weights(), one.learned_counts()
times = []
for _ in range(20):
    t = time.perf_counter()
    one.apply_learned(weights, counts)
    times.append(time.perf_counter() - t)
apply_ms = statistics.median(times) * 1000

messages = [dev[k % len(dev)] for k in range(2000)]
def run(clf):
    t = time.perf_counter()
    for text in messages:
        clf.classify(text)
    return time.perf_counter() - t
run(base), run(one)
ratios = [run(one) / run(base) for _ in range(5)]
print(json.dumps({
    "extra_mb": extra_mb, "build_s": build_s, "apply_ms": apply_ms,
    "vs_base": statistics.median(ratios), "rss_mb": rss_mb(),
}))
"""


def run(repo: Path, communities: int = COMMUNITIES) -> dict[str, float]:
    """Run the measuring script against the code of `repo` in a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", _SCRIPT, str(REPO), str(communities)],
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(repo)},
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    """Print classifiers_100_extra_mb, classifiers_100_build_s, apply_learned_ms, speed ratio."""
    note(f"{COMMUNITIES} community classifiers, each with local words and learned weights")
    result = run(REPO)
    figure("classifiers_100_extra_mb", result["extra_mb"], "MB")
    figure("classifiers_100_build_s", result["build_s"], "s")
    figure("apply_learned_ms", result["apply_ms"], "ms")
    figure("overlay_classify_vs_base", result["vs_base"], "x")
    note(f"process RSS with the 101 classifiers: {result['rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
