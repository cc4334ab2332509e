#!/usr/bin/env bash
# Sets up the machine, then runs the linters and the whole test suite (unit + end-to-end).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# shellcheck disable=SC1091
. .venv/bin/activate
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
ruff check .
ruff format --check .
python -m pytest tests -q -p no:cacheprovider "$@"
