#!/usr/bin/env bash
# Installs what the tests need and runs them: ruff, then pytest (extra pytest args pass through).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup_env.sh dev
.venv/bin/ruff check keboola_vectorizer tests scripts
# The page test drives the system Chromium (never a downloaded browser). Install it when missing and
# we are root with apt; if that fails the page test skips and says why, the rest still runs.
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; } \
    >/dev/null 2>&1 || echo "chromium could not be installed: the browser test will skip" >&2
fi
.venv/bin/python -m pytest "$@"
