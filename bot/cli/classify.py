"""`gridbot classify`: read messages from stdin or a TSV and print one JSON reading per line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from typing import Any

from bot.nlp import Classifier, LexiconError
from bot.nlp.evaluation import read_tsv


def add_parser(subparsers: Any) -> None:
    """Register the `classify` sub-command."""
    parser = subparsers.add_parser(
        "classify",
        help="classify messages (one per line on stdin, or --tsv FILE) and print JSON lines",
    )
    parser.add_argument("--tsv", metavar="FILE", help="TSV with a header and columns id, text")
    parser.set_defaults(handler=run)


def _messages(args: argparse.Namespace) -> Iterator[tuple[str, str]]:
    if args.tsv:
        rows = read_tsv(args.tsv)
        if rows and not {"id", "text"} <= set(rows[0]):
            raise ValueError(f"{args.tsv}: needs the columns id and text")
        for row in rows:
            yield row["id"], row["text"] or ""
        return
    for number, line in enumerate(sys.stdin, start=1):
        yield str(number), line.rstrip("\r\n")


def run(args: argparse.Namespace) -> int:
    """Classify each message and print {"id", "category", "confidence", ...} per line."""
    try:
        classifier = Classifier.load()
    except LexiconError as exc:
        print(f"gridbot classify: {exc}", file=sys.stderr)
        return 2
    try:
        for ident, text in _messages(args):
            reading = classifier.classify(text).to_dict()
            out = {
                "id": ident,
                "decision": reading["decision"],
                "category": reading["category"],
                "confidence": reading["confidence"],
                "evidence": reading["evidence"],
                "keywords": reading["keywords"],
                "urgency": reading["urgency"],
                "call_first": reading["call_first"],
                "location": reading["location"],
            }
            print(json.dumps(out, ensure_ascii=False), flush=False)
    except (OSError, ValueError) as exc:
        print(f"gridbot classify: {exc}", file=sys.stderr)
        return 2
    sys.stdout.flush()
    return 0
