#!/usr/bin/env bash
# Refresh the lock files from pyproject.toml: exact versions with hashes, for every install.
# Run after changing a dependency in pyproject.toml, then commit requirements/*.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
tools="$(mktemp -d)"
trap 'rm -rf "$tools"' EXIT
"$PYTHON" -m venv "$tools"
"$tools/bin/pip" install --quiet "pip-tools==7.6.2"
compile=("$tools/bin/pip-compile" --quiet --generate-hashes --strip-extras --allow-unsafe
         --no-emit-index-url --no-emit-find-links --no-emit-trusted-host)
"${compile[@]}" --upgrade -o requirements/runtime.txt pyproject.toml
"${compile[@]}" --upgrade --extra dev -o requirements/dev.txt pyproject.toml
