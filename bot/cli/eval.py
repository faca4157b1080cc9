"""`gridbot eval FILE.tsv...`: per set, accuracy, false alarms, triage load, auto-tickets."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bot.nlp import Classifier
from bot.nlp.evaluation import Report, evaluate, read_examples


def add_parser(subparsers: Any) -> None:
    """Register the `eval` sub-command."""
    parser = subparsers.add_parser(
        "eval", help="score the classifier on a labelled TSV (columns id, labels, text)"
    )
    parser.add_argument("files", metavar="FILE.tsv", nargs="+")
    parser.add_argument("--confusions", type=int, default=10, help="how many to list")
    parser.add_argument("--errors", action="store_true", help="also list every wrong row")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print the evaluation figures for one labelled file."""
    try:
        classifier = Classifier.load()
        sets = [(path, read_examples(path)) for path in args.files]
    except (OSError, ValueError) as exc:  # LexiconError is a ValueError
        print(f"gridbot eval: {exc}", file=sys.stderr)
        return 2
    for path, examples in sets:
        _print(args, path, evaluate(classifier, examples))
    return 0


def _print(args: argparse.Namespace, path: str, report: Report) -> None:
    print(f"file               {path}")
    print(f"messages           {report.total}")
    print(f"accuracy           {report.accuracy:.3f}")
    print(f"macro-F1           {report.macro_f1:.3f}")
    print(f"public false alarm {report.false_alarm_rate:.3f}   (gold none -> a ticket)")
    print(f"triage load        {report.triage_load:.3f}   (gold none -> the worker's triage list)")
    print(
        f"complaints reached {report.complaint_recall:.3f}   (gold complaint -> ticket or triage)"
    )
    print(f"auto-ticketed      {report.auto_ticket_rate:.3f}   (gold complaint -> ticket)")
    if report.confusions:
        print("worst confusions   (gold -> predicted: count)")
        for gold, predicted, count in report.confusions[: args.confusions]:
            print(f"  {gold:>13} -> {predicted:<13} {count}")
    if args.errors:
        for outcome in report.outcomes:
            if not outcome.correct:
                labels = "|".join(sorted(outcome.example.labels))
                print(
                    f"{outcome.example.id}\t{labels}\t{outcome.decision}\t{outcome.predicted}"
                    f"\t{outcome.example.text}"
                )
    print()
