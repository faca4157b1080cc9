"""`gridbot eval FILE.tsv`: accuracy, macro-F1, false alarms, recall, confirm and noise rates."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bot.nlp import Classifier
from bot.nlp.evaluation import evaluate, read_examples


def add_parser(subparsers: Any) -> None:
    """Register the `eval` sub-command."""
    parser = subparsers.add_parser(
        "eval", help="score the classifier on a labelled TSV (columns id, labels, text)"
    )
    parser.add_argument("file", metavar="FILE.tsv")
    parser.add_argument("--confusions", type=int, default=10, help="how many to list")
    parser.add_argument("--errors", action="store_true", help="also list every wrong row")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print the evaluation figures for one labelled file."""
    try:
        examples = read_examples(args.file)
        classifier = Classifier.load()
    except (OSError, ValueError) as exc:  # LexiconError is a ValueError
        print(f"gridbot eval: {exc}", file=sys.stderr)
        return 2
    report = evaluate(classifier, examples)
    print(f"file               {args.file}")
    print(f"messages           {report.total}")
    print(f"accuracy           {report.accuracy:.3f}")
    print(f"macro-F1           {report.macro_f1:.3f}")
    print(f"false-alarm rate   {report.false_alarm_rate:.3f}   (gold none -> a complaint)")
    print(f"complaint recall   {report.complaint_recall:.3f}")
    print(f"confirm_rate       {report.confirm_rate:.3f}   (gold complaint -> asks the category)")
    print(f"group_noise_rate   {report.group_noise_rate:.3f}   (gold none -> any reply in group)")
    if report.confusions:
        print("worst confusions   (gold -> predicted: count)")
        for gold, predicted, count in report.confusions[: args.confusions]:
            print(f"  {gold:>13} -> {predicted:<13} {count}")
    if args.errors:
        for outcome in report.outcomes:
            if not outcome.correct:
                labels = "|".join(sorted(outcome.example.labels))
                print(
                    f"{outcome.example.id}\t{labels}\t{outcome.predicted}\t{outcome.example.text}"
                )
    return 0
