"""Glow on CelebA-HQ 256x256, the model behind the paper's face samples and manipulations.

Launch (openai/glow used 40 GPUs for about a week; run one worker per host with TF_CONFIG set,
e.g. 5 hosts x 8 GPUs):

  tfglow-train --config=configs/celeba_glow.py --workdir=workdirs/celeba_glow

Data: tensorflow-datasets `celeb_a_hq/256` (30,000 images; manual download: the tfds catalog
explains how to build the CelebA-HQ tars). It has a single 'train' split, so, as openai/glow,
27,000 images train and the last 3,000 evaluate. Plain tfds `celeb_a` is a different data set
(218x178 aligned CelebA, not the HQ re-cropping): the `celeb_a` variant uses it at 128x128,
downsized rather than upscaled to 256 (our choice, not a paper experiment).

Variants: `celeb_a` (plain CelebA, 128x128, no manual download) and `smoke` (a few steps of a
tiny model on 32x32 images, for tests); they combine (`:celeb_a,smoke`).

Target: qualitative (paper, Figures 1 and 5-8: samples at temperature 0.7, attribute
manipulation); no bits/dim is reported.

Image shape [256, 256, 3] (`celeb_a`: [128, 128, 3]), no classes. Hyperparameters from
openai/glow's README command (`--problem celeba --image_size 256 --n_level 6 --depth 32
--flow_permutation 2 --flow_coupling 0 --learntop --lr 0.001 --n_bits_x 5`): additive coupling
and 5 bits.

Batches are global: openai/glow scaled the per-GPU batch by (32/256)**2 to 1, so 40 GPUs x 1 =
40, and data-dependent init on 4 images. On 40 GPUs its "epoch" (50,000 images at 64 per GPU) is
20 steps, hence warmup 196 steps and beta2 = ema_decay = 0.95; see
tfglow.config_lib.apply_openai_schedule.
"""

import ml_collections

from tfglow import config_lib

NATIVE_IMAGE_SHAPE = (None, None, 3)  # 256x256 for celeb_a_hq/256, 218x178 for celeb_a.
NUM_CLASSES = 0
VARIANTS = ('smoke', 'celeb_a')


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    """Returns the config for the variants named in `arg` (comma-separated; see VARIANTS)."""
    variants = config_lib.parse_variants(arg, VARIANTS)
    config = config_lib.base_config()
    config.strategy = 'multi_worker_mirrored'

    config.data.source = 'tfds'
    config.data.name = 'celeb_a_hq/256'
    config.data.image_size = 256
    config.data.train_split = 'train[:27000]'
    config.data.eval_split = 'train[27000:]'
    # 256x256x3 images: a 10,000-image buffer would hold 2 GB.
    config.data.shuffle_buffer = 1000

    config.model.num_levels = 6
    config.model.steps_per_level = 32
    config.model.hidden_width = 512
    config.model.permutation = 'invconv'
    config.model.coupling = 'additive'
    config.model.learn_top = True
    config.model.n_bits_x = 5

    config.optimizer = 'adamax'
    config.learning_rate = 1e-3
    # Training budget (ours; openai/glow ran until stopped): 10,000 x 20 = 200,000 steps.
    config_lib.apply_openai_schedule(config, num_gpus=40, image_size=256, epochs=10_000)

    if 'celeb_a' in variants:
        config.data.name = 'celeb_a'
        config.data.image_size = 128
        config.data.train_split = 'train'
        config.data.eval_split = 'test'
        config_lib.apply_openai_schedule(config, num_gpus=40, image_size=128, epochs=10_000)
    if 'smoke' in variants:
        config_lib.apply_smoke(config)
    return config
