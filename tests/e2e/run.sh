#!/usr/bin/env bash
# Runs the end-to-end suite against an already built tessera binary
# (target/debug/tessera, or $TESSERA_BIN). It does not build tessera.
#
#   tests/e2e/run.sh [pytest args...]
#
# Creates/updates the venv at <repo>/.venv from tests/e2e/requirements.txt and
# installs the npm packages of tests/e2e/js. Set TESSERA_TEST_PG_URL (e.g.
# postgres://postgres@127.0.0.1:5432/postgres) to run the PostgreSQL half too;
# with CI set it is required.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="$repo/.venv"

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
(cd "$here/js" && npm ci --no-audit --no-fund --silent)

cd "$repo"
exec "$venv/bin/python" -m pytest tests/e2e "$@"
