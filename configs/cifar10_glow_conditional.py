"""Class-conditional Glow on CIFAR-10 (the paper's y-conditioned samples).

Launch (openai/glow used 8 GPUs; `mirrored` uses every GPU on the host):

  tfglow-train --config=configs/cifar10_glow_conditional.py \
      --workdir=workdirs/cifar10_glow_conditional

Variants: `smoke` (a few steps of a tiny class-conditional model, for tests).

Target: qualitative, as in openai/glow's README ("Conditional CIFAR-10 Qualitative result"):
sample grids with one row per class. No bits/dim is reported, and at 5 bits the number is not
comparable with the 8-bit 3.35 of configs/cifar10_glow.py.

Image shape [32, 32, 3], 10 classes. Hyperparameters from openai/glow's README command
(`--n_level 3 --depth 32 --flow_permutation 2 --flow_coupling 0 --learntop --lr 0.001
--n_bits_x 5 --ycond --weight_y=0.01`): additive coupling and 5 bits, unlike the unconditional
run. The prior's mean and log-sd take a learned linear function of the one-hot label, and the
loss adds 0.01 x the class-prediction cross-entropy (bits) of a head on the top latent.

Batches are global (8 GPUs x 64 = 512); see configs/cifar10_glow.py for running on fewer devices
and for the missing translation augmentation.
"""

import ml_collections

from tfglow import config_lib

NATIVE_IMAGE_SHAPE = (32, 32, 3)
NUM_CLASSES = 10
VARIANTS = ('smoke',)


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    """Returns the config for the variants named in `arg` (comma-separated; see VARIANTS)."""
    variants = config_lib.parse_variants(arg, VARIANTS)
    config = config_lib.base_config()
    config.strategy = 'mirrored'

    config.data.source = 'tfds'
    config.data.name = 'cifar10'
    config.data.image_size = 0

    config.model.num_levels = 3
    config.model.steps_per_level = 32
    config.model.hidden_width = 512
    config.model.permutation = 'invconv'
    config.model.coupling = 'additive'
    config.model.learn_top = True
    config.model.class_conditional = True
    config.model.weight_y = 0.01
    config.model.n_bits_x = 5

    config.optimizer = 'adamax'
    config.learning_rate = 1e-3
    # Training budget (ours; openai/glow ran until stopped): 2000 x 98 = 196,000 steps.
    config_lib.apply_openai_schedule(config, num_gpus=8, image_size=32, epochs=2000)

    if 'smoke' in variants:
        config_lib.apply_smoke(config)
    return config
