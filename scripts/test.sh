#!/usr/bin/env bash
# Set up with the development extras and run the test suite. Extra arguments go to pytest
# (e.g. scripts/test.sh -m "not slow" for the quick run).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh dev
exec .venv/bin/python -m pytest "$@"
