#!/usr/bin/env bash
# The test command: lint, format check, type check, then the whole test suite
# (slow calibration tests included) against a real PostgreSQL server and a real
# headless Chromium. Extra arguments go to pytest, e.g. scripts/test.sh -m "not slow".
set -euo pipefail
cd "$(dirname "$0")/.."

# uv, then the locked dependencies; a Python that refuses pip installs
# (PEP 668, "externally managed") gets uv in the user's folder instead.
if ! command -v uv >/dev/null; then
  python3 -m pip install --quiet uv 2>/dev/null \
    || python3 -m pip install --quiet --user uv 2>/dev/null \
    || python3 -m pip install --quiet --user --break-system-packages uv
  export PATH="$PATH:$(python3 -m site --user-base)/bin"
fi
uv sync --locked --quiet

# PostgreSQL, Chromium, poppler and Java, installed when missing (root or sudo).
bash scripts/system-deps.sh

started_pg=""
if [ -z "${VEEDEL_TEST_POSTGRES_URL:-}" ]; then
  pg_env=$(scripts/postgres.sh) || { echo "test.sh: could not start PostgreSQL" >&2; exit 1; }
  eval "export $(echo "$pg_env" | tr '\n' ' ')"
  started_pg=$VEEDEL_TEST_POSTGRES_DIR
  trap 'scripts/postgres.sh stop "$started_pg"' EXIT
fi

uv run ruff check src tests benchmarks
uv run ruff format --check src tests benchmarks
uv run mypy
uv run pytest -n 2 --dist loadgroup "$@"
