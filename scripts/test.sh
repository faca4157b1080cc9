#!/usr/bin/env bash
# Install GridBot with its test tools into .venv and run every check: lint, format, types, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
# Exact versions with hashes from the lock file (scripts/lock.sh refreshes it), then the
# project itself without resolving anything again.
.venv/bin/python -m pip install --quiet --require-hashes -r requirements/dev.txt
.venv/bin/python -m pip install --quiet --no-deps -e .
echo "== ruff check"
.venv/bin/ruff check bot storage tests bench
echo "== ruff format --check"
.venv/bin/ruff format --check bot storage tests bench
echo "== mypy (strict on bot/ and storage/)"
.venv/bin/mypy
echo "== lint-imports (the layers)"
.venv/bin/lint-imports
echo "== pytest"
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
