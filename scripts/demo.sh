#!/usr/bin/env bash
# The main job on the embedded default, from a fresh checkout: install, generate and index the demo
# organisation into embedded Qdrant (Qdrant Edge) with the local model, then search it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup_env.sh
export QDRANT_PATH="${QDRANT_PATH:-$PWD/.kv-data/qdrant}"
.venv/bin/keboola-vectorizer index --sample
.venv/bin/keboola-vectorizer search "${1:-where is monthly churn by customer?}" --limit 5
