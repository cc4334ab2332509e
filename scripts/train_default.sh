#!/usr/bin/env bash
# Sets up a fresh machine, then trains the default Fashion-MNIST Glow (a few minutes on 2 CPU
# cores), evaluates test bits/dim and writes PNG sample grids. Extra flags go to tfglow-train,
# e.g. `bash scripts/train_default.sh --config.num_train_steps=200`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# shellcheck disable=SC1091
. .venv/bin/activate
WORKDIR="${WORKDIR:-workdirs/fashion_mnist_glow}"
tfglow-train --config=configs/fashion_mnist_glow.py --workdir="$WORKDIR" "$@"
echo "Results: $WORKDIR/eval_results.json; samples: $WORKDIR/samples_T*.png;" \
     "TensorBoard: tensorboard --logdir $WORKDIR"
echo "The tfglow-* commands and tensorboard are in .venv/bin: 'source .venv/bin/activate' first."
