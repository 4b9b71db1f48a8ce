#!/usr/bin/env bash
# Create .venv in the project root and install the project; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.installed-$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)-${1:-run}"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  # torch first, pinned to the CPU build: an unpinned resolve pulls a multi-GB CUDA build.
  .venv/bin/python -m pip install --quiet "torch==2.13.0"
  if [ "${1:-run}" = "dev" ]; then
    .venv/bin/python -m pip install --quiet -e ".[dev]"
  else
    .venv/bin/python -m pip install --quiet -e .
  fi
  rm -f .venv/.installed-*
  touch "$stamp"
fi
[ -f .env ] || cp .env.example .env
# Convert the bundled embedding model once (atomic; a no-op when already done).
.venv/bin/python -m bot setup
