#!/usr/bin/env bash
# Sets up a fresh machine: a virtual environment with tfglow installed (editable, with test tools)
# and the offline Fashion-MNIST files from Debian. Safe to run again; it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
if ! python -c 'import tfglow.tools, tfp_flows, pytest, ruff' >/dev/null 2>&1 \
    || [ setup.cfg -nt .venv/.tfglow-installed ] || [ setup.py -nt .venv/.tfglow-installed ]; then
  echo "[setup] installing tfglow and its dependencies"
  python -m pip install --quiet --upgrade pip
  python -m pip install --quiet -e '.[test]'
  touch .venv/.tfglow-installed
fi

FASHION=/usr/share/datasets/fashion-mnist
if [ ! -f "$FASHION/train-images-idx3-ubyte.gz" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "[setup] installing Debian's dataset-fashion-mnist"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null
  else
    echo "[setup] warning: $FASHION is missing and apt-get needs root; run" \
         "'sudo apt-get install dataset-fashion-mnist' or point config.data.path at idx files." >&2
  fi
fi
echo "[setup] ready: $(python -c 'import tensorflow as tf, tensorflow_probability as tfp; print("tensorflow", tf.__version__, "/ tfp", tfp.__version__)' 2>/dev/null)"
