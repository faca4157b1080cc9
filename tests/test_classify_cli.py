"""`gridbot classify` and `gridbot eval` as an operator runs them."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from bot.cli import main

REPO = Path(__file__).resolve().parent.parent


def test_classify_reads_stdin_lines_with_running_ids(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("4号楼电梯又坏了，关人了！快来人\n谢谢师傅\n"))
    assert main(["classify"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["id"] for line in lines] == ["1", "2"]
    assert set(lines[0]) == {
        "id",
        "decision",
        "category",
        "confidence",
        "evidence",
        "keywords",
        "urgency",
        "call_first",
        "location",
    }
    assert lines[0]["decision"] == "ticket" and lines[0]["category"] == "facilities"
    assert lines[0]["call_first"] == "119"  # someone trapped in the lift
    assert lines[0]["urgency"] == "urgent"
    assert lines[0]["location"]["building"] == "4"
    assert lines[1]["category"] == "none" and lines[1]["decision"] == "ignore"


def test_classify_reads_a_tsv_by_column_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tsv = tmp_path / "msgs.tsv"
    tsv.write_text("source\ttext\tid\nchat\t楼道里有人给电动车充电\tm-7\n", encoding="utf-8")
    assert main(["classify", "--tsv", str(tsv)]) == 0
    (line,) = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert line["id"] == "m-7"
    assert line["category"] == "fire_safety"


def test_classify_refuses_a_tsv_without_text_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tsv = tmp_path / "bad.tsv"
    tsv.write_text("id\tmessage\n1\t电梯坏了\n", encoding="utf-8")
    assert main(["classify", "--tsv", str(tsv)]) == 2
    assert "id and text" in capsys.readouterr().err


def test_eval_prints_the_figures(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(REPO / "eval" / "dev.tsv")]) == 0
    out = capsys.readouterr().out
    for label in (
        "accuracy",
        "public false alarm",
        "triage load",
        "complaints reached",
        "auto-ticketed",
    ):
        assert label in out
    accuracy = float(out.split("accuracy")[1].split()[0])
    assert accuracy >= 0.88


def test_eval_reports_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(tmp_path / "nope.tsv")]) == 2
    assert "nope.tsv" in capsys.readouterr().err
