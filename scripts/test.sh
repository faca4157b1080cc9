#!/usr/bin/env bash
# Install GridBot with its test tools into .venv and run every check: lint, format, types, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev]"
echo "== ruff check"
.venv/bin/ruff check bot storage tests bench
echo "== ruff format --check"
.venv/bin/ruff format --check bot storage tests bench
echo "== mypy (strict on bot/ and storage/)"
.venv/bin/mypy
echo "== pytest"
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
