"""`tfglow-train`: trains a model (Glow, PixelCNN, few-shot Glow or PixelCNN) from a config file.

    tfglow-train --config=configs/fashion_mnist_glow.py --workdir=/tmp/fashion_mnist
    tfglow-train --config=configs/fashion_mnist_glow.py:smoke --config.batch_size=32 \\
        --workdir=/tmp/smoke

From a checkout, `python tools/train.py` takes the same flags.
"""

import ml_collections
from absl import app, flags
from ml_collections import config_flags

from tfglow import cli

_CONFIG = config_flags.DEFINE_config_file('config', None, 'Config file, e.g. configs/x.py:variant.')
_WORKDIR = flags.DEFINE_string('workdir', None, 'Directory for checkpoints, summaries and results.')
flags.mark_flags_as_required(['config', 'workdir'])


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
    # Imported here, not at the top: they load TensorFlow, which --help does without.
    from tfglow import train

    with cli.exit_on_error('tfglow-train', train.NonFiniteLossError):
        config = _CONFIG.value
        if not isinstance(config, ml_collections.ConfigDict):
            # ml_collections defers a config file's load error to the config's first use.
            config.lock()
        train.train_and_evaluate(config, _WORKDIR.value)


def run() -> None:
    """Console-script entry point."""
    cli.run(main, __name__)


if __name__ == '__main__':
    run()
