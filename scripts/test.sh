#!/usr/bin/env bash
# Installs what the tests need and runs them: ruff, then pytest (extra pytest args pass through).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup_env.sh dev
.venv/bin/ruff check keboola_vectorizer tests scripts
.venv/bin/python -m pytest "$@"
