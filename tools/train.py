"""`tfglow-train`: trains a model (Glow, PixelCNN, few-shot Glow or PixelCNN) from a config file.

    tfglow-train --config=configs/fashion_mnist_glow.py --workdir=/tmp/fashion_mnist
    tfglow-train --config=configs/fashion_mnist_glow.py:smoke --config.batch_size=32 \\
        --workdir=/tmp/smoke

From a checkout, `python tools/train.py` takes the same flags.
"""

import ml_collections
from absl import app, flags
from ml_collections import config_flags

from tfglow import cli, config_lib

_CONFIG = config_flags.DEFINE_config_file('config', None, 'Config file, e.g. configs/x.py:variant.')
_WORKDIR = flags.DEFINE_string('workdir', None, 'Directory for checkpoints, summaries and results.')
_ALLOW_CONFIG_CHANGE = flags.DEFINE_bool(
    'allow_config_change',
    False,
    'Resume a run in --workdir with a config that differs from its config.json in more than '
    'num_train_steps and the log, eval and checkpoint cadence; the changes are recorded in '
    'config_history.json.',
)
flags.mark_flags_as_required(['config', 'workdir'])


def main(argv: list[str]) -> int | None:
    if len(argv) > 1:
        raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
    # Imported here, not at the top: they load TensorFlow, which --help does without.
    from tfglow import train

    with cli.exit_on_error('tfglow-train', train.NonFiniteLossError):
        config = _CONFIG.value
        if not isinstance(config, ml_collections.ConfigDict):
            # ml_collections defers a config file's load error to the config's first use, in a
            # message of several lines; config_lib's loader says it in one, listing the configs.
            config_lib.load_config_module(config_flags.get_config_filename(flags.FLAGS['config']))
            config.lock()
        try:
            train.train_and_evaluate(
                config, _WORKDIR.value, allow_config_change=_ALLOW_CONFIG_CHANGE.value
            )
        except train.TrainingInterrupted as e:
            return e.exit_code  # Logged; 128 + signal, so a scheduler sees an unfinished job.


def run() -> None:
    """Console-script entry point."""
    cli.run(main, __name__)


if __name__ == '__main__':
    run()
