"""Glow on ImageNet 32x32 (van den Oord et al.'s downsampled ImageNet), as in the Glow paper.

Launch (openai/glow used 8 GPUs; `mirrored` uses every GPU on the host):

  tfglow-train --config=configs/imagenet32_glow.py --workdir=workdirs/imagenet32_glow

Data: tensorflow-datasets `downsampled_imagenet/32x32`, the "imagenet-oord" set of openai/glow's
quantitative results (1,281,149 train images; evaluated on its 'validation' split, which is what
the literature calls the test set). It has no labels. Its download site may require prefetching
the files by hand (see the tfds catalog).

Variants: `smoke` (a few steps of a tiny model, for tests).

Target: 4.09 bits/dim (paper, Table 2; RealNVP 4.28).

Image shape [32, 32, 3], no classes. Hyperparameters from openai/glow's README command
(`--problem imagenet-oord --image_size 32 --n_level 3 --depth 48 --flow_permutation 2
--flow_coupling 1 --learntop --lr 0.001 --n_bits_x 8`) and train.py defaults (width 512,
Adamax, batch 64 per GPU, warmup 10 x 50,000 images).

Batches are global: 8 GPUs x 64 = 512, split across replicas. On fewer devices lower
`--config.batch_size` and scale `warmup_steps` (977) and `beta2` / `ema_decay` (1 - 1/98) to
match; see tfglow.config_lib.apply_openai_schedule.
"""

import ml_collections

from tfglow import config_lib

NATIVE_IMAGE_SHAPE = (32, 32, 3)
NUM_CLASSES = 0
VARIANTS = ('smoke',)


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    """Returns the config for the variants named in `arg` (comma-separated; see VARIANTS)."""
    variants = config_lib.parse_variants(arg, VARIANTS)
    config = config_lib.base_config()
    config.strategy = 'mirrored'

    config.data.source = 'tfds'
    config.data.name = 'downsampled_imagenet/32x32'
    config.data.image_size = 0
    config.data.eval_split = 'validation'

    config.model.num_levels = 3
    config.model.steps_per_level = 48
    config.model.hidden_width = 512
    config.model.permutation = 'invconv'
    config.model.coupling = 'affine'
    config.model.learn_top = True
    config.model.n_bits_x = 8

    config.optimizer = 'adamax'
    config.learning_rate = 1e-3
    # Training budget (ours; openai/glow ran until stopped): 2000 x 98 = 196,000 steps, about
    # 78 passes over the 1.28M training images.
    config_lib.apply_openai_schedule(config, num_gpus=8, image_size=32, epochs=2000)

    if 'smoke' in variants:
        config_lib.apply_smoke(config)
    return config
