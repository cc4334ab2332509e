"""Glow on ImageNet 64x64 (van den Oord et al.'s downsampled ImageNet), as in the Glow paper.

Launch (openai/glow used 8 GPUs; `mirrored` uses every GPU on the host):

  tfglow-train --config=configs/imagenet64_glow.py --workdir=workdirs/imagenet64_glow

Data: tensorflow-datasets `downsampled_imagenet/64x64` ("imagenet-oord" in openai/glow; no
labels; evaluated on its 'validation' split). Its download site may require prefetching the files
by hand (see the tfds catalog).

Variants: `smoke` (a few steps of a tiny model on images downsized to 32x32, for tests).

Target: 3.81 bits/dim (paper, Table 2; RealNVP 3.98).

Image shape [64, 64, 3], no classes. Hyperparameters from openai/glow's README command
(`--problem imagenet-oord --image_size 64 --n_level 4 --depth 48 --flow_permutation 2
--flow_coupling 1 --learntop --lr 0.001 --n_bits_x 8`) and train.py defaults.

Batches are global: openai/glow scaled the per-GPU batch by (32/64)**2 to 16, so 8 GPUs x 16 =
128, and data-dependent init on 64 images. Its warmup (977 steps) and beta2 / ema_decay
(1 - 1/98) still count 64 images per GPU per step; see tfglow.config_lib.apply_openai_schedule.
"""

import ml_collections

from tfglow import config_lib

NATIVE_IMAGE_SHAPE = (64, 64, 3)
NUM_CLASSES = 0
VARIANTS = ('smoke',)


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    """Returns the config for the variants named in `arg` (comma-separated; see VARIANTS)."""
    variants = config_lib.parse_variants(arg, VARIANTS)
    config = config_lib.base_config()
    config.strategy = 'mirrored'

    config.data.source = 'tfds'
    config.data.name = 'downsampled_imagenet/64x64'
    config.data.image_size = 0
    config.data.eval_split = 'validation'

    config.model.num_levels = 4
    config.model.steps_per_level = 48
    config.model.hidden_width = 512
    config.model.permutation = 'invconv'
    config.model.coupling = 'affine'
    config.model.learn_top = True
    config.model.n_bits_x = 8

    config.optimizer = 'adamax'
    config.learning_rate = 1e-3
    # Training budget (ours; openai/glow ran until stopped): 3000 x 98 = 294,000 steps of 128
    # images, about 29 passes over the 1.28M training images.
    config_lib.apply_openai_schedule(config, num_gpus=8, image_size=64, epochs=3000)

    if 'smoke' in variants:
        config_lib.apply_smoke(config, image_size=32)
    return config
