#!/usr/bin/env bash
# Install GridBot into .venv and run the demo: the Bot API emulator, the bot and a short scene.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
# Exact versions with hashes from the lock file (scripts/lock.sh refreshes it), then the
# project itself without resolving anything again.
.venv/bin/python -m pip install --quiet --require-hashes -r requirements/runtime.txt
.venv/bin/python -m pip install --quiet --no-deps -e .
exec .venv/bin/gridbot demo "$@"
