#!/usr/bin/env bash
# Set up, index the knowledge base, and run the bot (console chat when no Telegram token is set).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh run
.venv/bin/python -m indexer refresh
.venv/bin/python -m bot warmup  # the answer sentences' vectors, once per index change (kept under DATA_DIR/cache)
exec .venv/bin/python -m bot start "$@"
