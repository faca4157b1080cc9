"""Translate the repositories' SQLite SQL into PostgreSQL, once per statement.

Repositories write one SQL text in SQLite's dialect; this module rewrites what PostgreSQL
spells differently, so the same repository runs on both stores:

- parameters ``?`` (and ``:name``) become ``$1, $2 …``;
- ``a IS ?`` / ``a IS NOT ?`` (SQLite's null-safe equality) become ``IS [NOT] DISTINCT FROM``;
- ``MAX(a, b)`` / ``MIN(a, b)`` (the scalar forms) become ``GREATEST`` / ``LEAST``;
- ``IFNULL`` becomes ``COALESCE``, ``GROUP_CONCAT`` becomes ``string_agg``;
- ``json_extract(doc, '$.a.b')`` becomes ``(CAST(doc AS jsonb) #>> '{a,b}')`` (text);
- ``datetime('now')`` becomes the same 'YYYY-MM-DD HH:MM:SS' UTC text;
- ``CAST(x AS REAL)`` / ``AS INTEGER`` become ``DOUBLE PRECISION`` / ``BIGINT``;
- ``LIKE`` becomes ``ILIKE`` (SQLite's LIKE ignores ASCII case; with the "C" collation of
  every text column ILIKE folds ASCII only, the same rule);
- ``INSERT OR IGNORE`` becomes ``INSERT … ON CONFLICT DO NOTHING``;
- ``INDEXED BY name`` / ``NOT INDEXED`` (planner hints) are dropped, ``==`` becomes ``=``;
- ``PRAGMA`` statements translate to nothing (the caller skips them).

What has no faithful translation is refused with :class:`UnsupportedSQL` naming the construct
(``last_insert_rowid()``, ``INSERT OR REPLACE``, ``strftime``, ``julianday``, ``COLLATE
NOCASE``, ``BEGIN``/``COMMIT`` in a repository …) so it fails the first test that runs it
on PostgreSQL instead of misbehaving later.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["PgStatement", "UnsupportedSQL", "bind", "to_postgres"]


class UnsupportedSQL(ValueError):
    """A SQLite construct that has no faithful PostgreSQL translation."""


@dataclass(frozen=True)
class PgStatement:
    """One statement in PostgreSQL's dialect and how to order its parameters."""

    sql: str
    # For ``:name`` parameters: the names in $1, $2 … order; empty for positional ``?``.
    names: tuple[str, ...] = ()


_TOKEN = re.compile(
    r"""
      (?P<ws>\s+)
    | (?P<comment>--[^\n]*|/\*.*?\*/)
    | (?P<string>'(?:[^']|'')*')
    | (?P<quoted>"(?:[^"]|"")*"|`[^`]*`)
    | (?P<param>\?\d*|(?<!:):[A-Za-z_]\w*|@[A-Za-z_]\w*)
    | (?P<word>[A-Za-z_][A-Za-z0-9_$]*)
    | (?P<number>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+)
    | (?P<op>::|\|\||<=|>=|<>|!=|==|->>|->|.)
    """,
    re.VERBOSE | re.DOTALL,
)

# Functions SQLite has and PostgreSQL lacks (or spells with other semantics).
_REFUSED_FUNCTIONS = {
    "last_insert_rowid": "use INSERT … RETURNING id (both stores support it)",
    "changes": "use Database.execute_rowcount",
    "total_changes": "use Database.execute_rowcount",
    "strftime": "format times in Python and store ISO-8601 text",
    "julianday": "compute with times in Python and compare ISO-8601 text",
    "unixepoch": "compute with times in Python and compare ISO-8601 text",
    "date": "compute dates in Python and store ISO-8601 text",
    "time": "compute times in Python and store ISO-8601 text",
    "printf": "format in Python",
    "iif": "write CASE WHEN … THEN … ELSE … END",
    "json_each": "read the JSON in Python",
    "json_set": "build the JSON in Python",
    "typeof": "no PostgreSQL equivalent",
}


@dataclass
class _Tok:
    kind: str
    text: str

    @property
    def upper(self) -> str:
        return self.text.upper()


def _tokenize(sql: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    for match in _TOKEN.finditer(sql):
        kind = match.lastgroup or "op"
        tokens.append(_Tok(kind, match.group()))
    return tokens


def _significant(tokens: list[_Tok], start: int) -> int:
    """Return the index of the next token that is not whitespace or a comment."""
    i = start
    while i < len(tokens) and tokens[i].kind in ("ws", "comment"):
        i += 1
    return i


def _matching_paren(tokens: list[_Tok], open_index: int) -> int:
    depth = 0
    for i in range(open_index, len(tokens)):
        if tokens[i].text == "(":
            depth += 1
        elif tokens[i].text == ")":
            depth -= 1
            if depth == 0:
                return i
    raise UnsupportedSQL("unbalanced parentheses")


def _split_args(tokens: list[_Tok]) -> list[list[_Tok]]:
    """Split a call's argument tokens at top-level commas."""
    args: list[list[_Tok]] = [[]]
    depth = 0
    for tok in tokens:
        if tok.text == "(":
            depth += 1
        elif tok.text == ")":
            depth -= 1
        if tok.text == "," and depth == 0:
            args.append([])
        else:
            args[-1].append(tok)
    return args


def _text(tokens: Sequence[_Tok]) -> str:
    return "".join(t.text for t in tokens).strip()


def _json_path(literal: str) -> str:
    """Turn a SQLite JSON path literal ('$.a.b[0]') into a PostgreSQL text[] ('{a,b,0}')."""
    path = literal[1:-1].replace("''", "'")
    if not path.startswith("$"):
        raise UnsupportedSQL(f"json_extract path must start with $: {literal}")
    parts = re.findall(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]", path[1:])
    rebuilt = "".join(f".{k}" if k else f"[{n}]" for k, n in parts)
    if rebuilt != path[1:]:
        raise UnsupportedSQL(f"json_extract path too complex for translation: {literal}")
    return "'{" + ",".join(k or n for k, n in parts) + "}'"


class _Translator:
    def __init__(self) -> None:
        self.count = 0
        self.names: list[str] = []

    def param(self, tok: _Tok) -> str:
        text = tok.text
        if text == "?":
            if self.names:
                raise UnsupportedSQL("mixed ? and :name parameters")
            self.count += 1
            return f"${self.count}"
        if text.startswith("?"):
            raise UnsupportedSQL("numbered ?NNN parameters")
        if self.count and not self.names:
            raise UnsupportedSQL("mixed ? and :name parameters")
        name = text[1:]
        if name not in self.names:
            self.names.append(name)
            self.count += 1
        return f"${self.names.index(name) + 1}"

    def run(self, tokens: list[_Tok]) -> str:
        out: list[str] = []
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            kind, upper = tok.kind, tok.upper
            if kind == "param":
                out.append(self.param(tok))
            elif kind == "op" and tok.text == "==":
                out.append("=")
            elif kind == "word":
                nxt = _significant(tokens, i + 1)
                if nxt < len(tokens) and tokens[nxt].text == "(" and upper not in _KEYWORDS:
                    end = _matching_paren(tokens, nxt)
                    gap = " " if nxt > i + 1 else ""
                    out.append(self.call(tok.text, gap, tokens[nxt + 1 : end]))
                    i = end + 1
                    continue
                handled = self.word(tokens, i, out)
                if handled is not None:
                    i = handled
                    continue
                out.append(tok.text)
            else:
                out.append(tok.text)
            i += 1
        return "".join(out)

    def word(self, tokens: list[_Tok], i: int, out: list[str]) -> int | None:
        """Rewrite a keyword at tokens[i]; return the next index, or None to copy it."""
        upper = tokens[i].upper
        if upper == "IS":
            j = _significant(tokens, i + 1)
            negated = j < len(tokens) and tokens[j].upper == "NOT"
            k = _significant(tokens, j + 1) if negated else j
            if k < len(tokens) and tokens[k].upper in ("NULL", "TRUE", "FALSE", "DISTINCT"):
                return None
            out.append("IS DISTINCT FROM " if negated else "IS NOT DISTINCT FROM ")
            return k
        if upper == "LIKE":
            out.append("ILIKE")
            return i + 1
        if upper == "GLOB" or upper == "REGEXP":
            raise UnsupportedSQL(f"{upper} has no PostgreSQL equivalent here")
        if upper == "INDEXED":
            j = _significant(tokens, i + 1)
            if j < len(tokens) and tokens[j].upper == "BY":
                k = _significant(tokens, j + 1)
                return k + 1  # drop the hint and its index name
            return None
        if upper == "NOT":
            j = _significant(tokens, i + 1)
            if j < len(tokens) and tokens[j].upper == "INDEXED":
                return j + 1
            return None
        if upper == "COLLATE":
            j = _significant(tokens, i + 1)
            if j < len(tokens) and tokens[j].upper in ("NOCASE", "RTRIM"):
                raise UnsupportedSQL(f"COLLATE {tokens[j].text} has no PostgreSQL equivalent")
            return None
        if upper == "AUTOINCREMENT":
            raise UnsupportedSQL("AUTOINCREMENT belongs in migrations, not repository SQL")
        return None

    def call(self, name: str, gap: str, inner: list[_Tok]) -> str:
        lower = name.lower()
        if lower in _REFUSED_FUNCTIONS:
            raise UnsupportedSQL(f"{name}(): {_REFUSED_FUNCTIONS[lower]}")
        args = _split_args(inner)
        if lower == "datetime":
            if [_text(a).lower() for a in args] == ["'now'"]:
                return "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')"
            raise UnsupportedSQL("datetime() other than datetime('now')")
        if lower == "json_extract":
            if len(args) != 2 or not _text(args[1]).startswith("'"):
                raise UnsupportedSQL("json_extract needs a document and one literal path")
            doc = self.run(args[0]).strip()
            return f"(CAST({doc} AS jsonb) #>> {_json_path(_text(args[1]))})"
        if lower in ("max", "min") and len(args) > 1:
            fn = "GREATEST" if lower == "max" else "LEAST"
            return f"{fn}({', '.join(self.run(a).strip() for a in args)})"
        if lower == "ifnull":
            return f"COALESCE({', '.join(self.run(a).strip() for a in args)})"
        if lower == "group_concat":
            value = self.run(args[0]).strip()
            sep = self.run(args[1]).strip() if len(args) > 1 else "','"
            return f"string_agg(CAST({value} AS TEXT), {sep})"
        if lower == "instr" and len(args) == 2:
            return f"strpos({self.run(args[0]).strip()}, {self.run(args[1]).strip()})"
        if lower == "cast":
            body = self.run(inner)
            body = re.sub(r"(?i)\bAS\s+REAL\s*$", "AS DOUBLE PRECISION", body.rstrip())
            body = re.sub(r"(?i)\bAS\s+INTEGER\s*$", "AS BIGINT", body)
            return f"{name}({body})"
        return f"{name}{gap}({self.run(inner)})"


# Words followed by "(" that are not function calls.
_KEYWORDS = {
    "IN",
    "VALUES",
    "AS",
    "ON",
    "AND",
    "OR",
    "NOT",
    "EXISTS",
    "FROM",
    "JOIN",
    "WHERE",
    "SELECT",
    "INTO",
    "USING",
    "WITH",
    "SET",
    "THEN",
    "ELSE",
    "WHEN",
    "CONFLICT",
    "RETURNING",
    "BY",
    "OVER",
    "FILTER",
    "UNION",
    "ALL",
    "IS",
}

_TRANSACTION_WORDS = {"BEGIN", "COMMIT", "ROLLBACK", "END", "SAVEPOINT", "RELEASE"}


@functools.lru_cache(maxsize=4096)
def to_postgres(sql: str) -> PgStatement | None:
    """Translate one SQLite statement; None for a statement PostgreSQL must skip (PRAGMA)."""
    tokens = _tokenize(sql)
    first = _significant(tokens, 0)
    if first >= len(tokens):
        return PgStatement(sql)
    head = tokens[first].upper
    if head == "PRAGMA":
        return None
    if head in _TRANSACTION_WORDS:
        raise UnsupportedSQL(f"{head}: open transactions with Database.transaction()")
    tokens = _insert_or(tokens, first)
    translator = _Translator()
    text = translator.run(tokens)
    return PgStatement(text, tuple(translator.names))


def _insert_or(tokens: list[_Tok], first: int) -> list[_Tok]:
    """Rewrite INSERT OR IGNORE into INSERT … ON CONFLICT DO NOTHING; refuse the others."""
    if tokens[first].upper not in ("INSERT", "REPLACE"):
        return tokens
    if tokens[first].upper == "REPLACE":
        raise UnsupportedSQL("REPLACE INTO: write INSERT … ON CONFLICT (…) DO UPDATE")
    j = _significant(tokens, first + 1)
    if j >= len(tokens) or tokens[j].upper != "OR":
        return tokens
    k = _significant(tokens, j + 1)
    action = tokens[k].upper if k < len(tokens) else ""
    if action != "IGNORE":
        raise UnsupportedSQL(f"INSERT OR {action}: write INSERT … ON CONFLICT (…) DO UPDATE")
    rest = tokens[: first + 1] + tokens[k + 1 :]
    depth = 0
    at = len(rest)
    for index, tok in enumerate(rest):
        depth += tok.text == "("
        depth -= tok.text == ")"
        if depth == 0 and tok.upper == "RETURNING":
            at = index
            break
    clause = [_Tok("ws", " "), _Tok("word", "ON CONFLICT DO NOTHING"), _Tok("ws", " ")]
    return rest[:at] + clause + rest[at:]


def bind(statement: PgStatement, params: Sequence[Any] | dict[str, Any]) -> list[Any]:
    """Order the caller's parameters for $1, $2 …."""
    if isinstance(params, dict):
        if not statement.names:
            raise UnsupportedSQL("a dict of parameters for a statement with ? parameters")
        return [params[name] for name in statement.names]
    if statement.names:
        raise UnsupportedSQL("a sequence of parameters for a statement with :name parameters")
    return list(params)
