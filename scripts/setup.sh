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
# Venvs made before tfglow asked for one TensorFlow hold two distributions, `tensorflow-cpu` and
# `tensorflow`, unpacked into the same directory: uninstalling one deletes files of the other, so
# the remaining one is reinstalled whole.
if python -m pip show --quiet tensorflow-cpu >/dev/null 2>&1; then
  echo "[setup] replacing tensorflow-cpu with the one TensorFlow that tf-keras and TFP accept"
  python -m pip uninstall --yes tensorflow-cpu
  python -m pip install --force-reinstall --no-deps -c constraints.txt tensorflow
fi
if ! python -c 'import tfglow.tools, tfp_flows, pytest, ruff' >/dev/null 2>&1 \
    || [ setup.cfg -nt .venv/.tfglow-installed ] || [ setup.py -nt .venv/.tfglow-installed ] \
    || [ constraints.txt -nt .venv/.tfglow-installed ]; then
  # The first install takes minutes (TensorFlow's wheel alone is 572 MB), so pip shows what it
  # is doing rather than running quietly.
  echo "[setup] installing tfglow and its dependencies (pinned by constraints.txt); pip lists" \
       "what it collects, then unpacks it all at once (TensorFlow: 1.9 GB, a minute or two)"
  started=$SECONDS
  python -m pip install --quiet --upgrade pip
  python -m pip install -c constraints.txt -e '.[test]'
  touch .venv/.tfglow-installed
  echo "[setup] installed in $((SECONDS - started)) s"
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
