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
.venv/bin/ruff check bot storage tgsandbox gridbot_demo tests bench
echo "== ruff format --check"
.venv/bin/ruff format --check bot storage tgsandbox gridbot_demo tests bench
echo "== mypy (strict on bot/, storage/, tgsandbox/, gridbot_demo/)"
.venv/bin/mypy
echo "== lint-imports (the layers)"
.venv/bin/lint-imports

# A throwaway PostgreSQL server for the run, so the storage and whole-bot suites also run on
# PostgreSQL (GRIDBOT_TEST_PG). Set GRIDBOT_TEST_PG yourself to use a server of your own.
# CI installs the server from the distribution's packages; elsewhere, without one, the
# PostgreSQL cases skip (and in CI they fail instead: tests/conftest.py).
pg_bin() {
    local dir
    for dir in /usr/lib/postgresql/*/bin; do
        [ -x "$dir/initdb" ] && [ -x "$dir/postgres" ] && { echo "$dir"; return 0; }
    done
    command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 \
        && { dirname "$(command -v initdb)"; return 0; }
    return 1
}

start_postgres() {
    local bin as_user=() free_port
    if ! bin="$(pg_bin)"; then
        if [ "${CI:-}" = "true" ] && [ "$(id -u)" = 0 ]; then
            echo "== installing PostgreSQL"
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
            bin="$(pg_bin)" || { echo "PostgreSQL did not install" >&2; return 1; }
        else
            echo "== no PostgreSQL server installed: PostgreSQL tests will skip"
            return 0
        fi
    fi
    PG_DIR="$(mktemp -d /tmp/gridbot-pg.XXXXXX)"
    if [ "$(id -u)" = 0 ]; then
        # root may not run postgres; the packaged 'postgres' user (or a new one) does.
        id -u postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
        chown postgres "$PG_DIR"
        as_user=(runuser -u postgres --)
    fi
    free_port="$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    "${as_user[@]}" "$bin/initdb" -D "$PG_DIR/data" -U gridbot --auth=trust --encoding=UTF8 \
        --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 \
        || { cat "$PG_DIR/initdb.log" >&2; return 1; }
    "${as_user[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -s \
        -o "-h 127.0.0.1 -p $free_port -k $PG_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start || { cat "$PG_DIR/server.log" >&2; return 1; }
    PG_CTL=("${as_user[@]}" "$bin/pg_ctl" -D "$PG_DIR/data")
    "$bin/createdb" -h 127.0.0.1 -p "$free_port" -U gridbot gridbot_test
    export GRIDBOT_TEST_PG="postgresql://gridbot@127.0.0.1:$free_port/gridbot_test"
    echo "== PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$free_port"
}

stop_postgres() {
    if [ -n "${PG_DIR:-}" ]; then
        "${PG_CTL[@]}" stop -m immediate -s >/dev/null 2>&1 || true
        rm -rf "$PG_DIR"
    fi
}

if [ -z "${GRIDBOT_TEST_PG:-}" ]; then
    trap stop_postgres EXIT
    start_postgres
fi

echo "== pytest"
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
