"""The house rules no linter checks for us: every SQL statement lives in storage/."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BOT = ROOT / "bot"

# What only a SQL statement says; prose ("triggers refuse UPDATE and DELETE") does not match.
SQL = re.compile(
    r"\bSELECT\b.*\bFROM\b|\bSELECT\s+(?:1|COUNT|EXISTS|setval|pg_)|\bINSERT\s+(?:OR\s+\w+\s+)?INTO\b"
    r"|\bUPDATE\s+\w+\s+SET\b|\bDELETE\s+FROM\b|\bBEGIN(?:\s+IMMEDIATE)?\b\s*$|^\s*ROLLBACK\b"
    r"|\bPRAGMA\s+\w+|\bCREATE\s+(?:TABLE|INDEX|TRIGGER)\b|\bTRUNCATE\s+\w+",
    re.DOTALL,
)


def _literals(tree: ast.AST) -> list[tuple[int, str]]:
    """Return every string literal, an f-string read with its holes filled by 'x'."""
    found: list[tuple[int, str]] = []
    inside_fstrings: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = []
            for value in node.values:
                inside_fstrings.add(id(value))
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    parts.append(value.value)
                else:
                    parts.append("x")
            found.append((node.lineno, "".join(parts)))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in inside_fstrings
        ):
            found.append((node.lineno, node.value))
    return found


def sql_outside_storage(root: Path) -> list[str]:
    """Name each string literal under root that reads like SQL, as path:line."""
    hits = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for line, text in _literals(tree):
            if SQL.search(text):
                hits.append(f"{path.relative_to(ROOT)}:{line}: {text[:60]!r}")
    return hits


def test_no_sql_outside_storage() -> None:
    assert sql_outside_storage(BOT) == []


@pytest.mark.parametrize(
    "source",
    [
        'db.fetchval("SELECT value FROM kv WHERE key = ?", (key,))',
        'db.execute("INSERT INTO kv (key, value) VALUES (?, ?)", row)',
        'db.execute("UPDATE tickets SET status = ? WHERE id = ?", row)',
        "db.execute(\"DELETE FROM kv WHERE key LIKE ?\", ('a%',))",
        'db.fetchall(f"SELECT {columns} FROM pending_reports WHERE id = ?", (1,))',
        'db.fetchall(\n    "SELECT id"\n    " FROM tickets"\n)',
        'conn.execute("BEGIN IMMEDIATE")',
        'db.fetchall(f"PRAGMA table_info({table})")',
    ],
)
def test_the_check_finds_sql(tmp_path: Path, source: str) -> None:
    module = tmp_path / "bot" / "m.py"
    module.parent.mkdir()
    module.write_text(source + "\n", encoding="utf-8")
    assert len(_scan(module)) == 1


@pytest.mark.parametrize(
    "source",
    [
        '"""The log is append-only (database triggers refuse UPDATE and DELETE)."""',
        'texts = "请选择 (select) 一个类别"',
        'log.info("updated the card of ticket %s", number)',
    ],
)
def test_the_check_lets_prose_pass(tmp_path: Path, source: str) -> None:
    module = tmp_path / "m.py"
    module.write_text(source + "\n", encoding="utf-8")
    assert _scan(module) == []


def _scan(module: Path) -> list[str]:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    return [text for _, text in _literals(tree) if SQL.search(text)]
