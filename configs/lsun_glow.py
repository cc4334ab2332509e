"""Glow on LSUN bedroom / tower / church outdoor at 64x64, as in the Glow paper.

Launch (openai/glow used 8 GPUs for 64x64; `mirrored` uses every GPU on the host):

  tfglow-train --config=configs/lsun_glow.py:tower --workdir=workdirs/lsun_glow_tower

Data: tensorflow-datasets `lsun/<category>` (full-size JPEGs; evaluated on the 300-image
'validation' split), resized (shorter side) and centre-cropped to 64x64. openai/glow used
RealNVP's preprocessing instead: downsampled to 96x96, then random 64x64 crops, so our images
show more of each scene and bits/dim are close to, not exactly, the paper's.

Variants: one category, `bedroom` (default), `tower` or `church` (church_outdoor); one
resolution, 64 (default), `res96` or `res128` (openai/glow's qualitative LSUN runs: 5 levels of
64 steps, additive coupling, 5 bits, 40 GPUs, so multi-worker as in configs/celeba_glow.py); and
`smoke` (a few steps of a tiny model on 32x32 images, for tests). Combine with commas:
`:church,res128` or `:tower,smoke`.

Target (64x64, test bits/dim; paper, Table 2): bedroom 2.38, tower 2.46, church outdoor 2.67
(RealNVP 2.72 / 2.81 / 3.08). 96 and 128: qualitative.

Image shape [64, 64, 3] (`res96`: [96, 96, 3], `res128`: [128, 128, 3]), no classes.
Hyperparameters from openai/glow's README commands (`--problem lsun_realnvp --image_size 64
--n_level 3 --depth 48 --flow_permutation 2 --flow_coupling 1 --learntop --lr 0.001
--n_bits_x 8`; `--problem lsun --image_size [96/128] --n_level 5 --depth 64 --flow_coupling 0
--n_bits_x 5`).

Batches are global: openai/glow's per-GPU batch 64 * (32/size)**2 times its GPU count: 8 x 16 =
128 at 64x64, 40 x 7 = 280 at 96, 40 x 4 = 160 at 128; see
tfglow.config_lib.apply_openai_schedule for warmup, beta2 and ema_decay.
"""

import ml_collections

from tfglow import config_lib

NATIVE_IMAGE_SHAPE = (None, None, 3)  # LSUN images vary in size; data.image_size is always set.
NUM_CLASSES = 0
_CATEGORIES = {'bedroom': 'bedroom', 'tower': 'tower', 'church': 'church_outdoor'}
_RESOLUTIONS = {'res96': 96, 'res128': 128}
VARIANTS = ('smoke', *_CATEGORIES, *_RESOLUTIONS)


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    """Returns the config for the variants named in `arg` (comma-separated; see VARIANTS)."""
    variants = config_lib.parse_variants(arg, VARIANTS)
    config = config_lib.base_config()
    config.strategy = 'mirrored'

    category = config_lib.pick_variant(variants, _CATEGORIES, default='bedroom')
    config.data.source = 'tfds'
    config.data.name = f'lsun/{_CATEGORIES[category]}'
    config.data.image_size = 64
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
    # Training budget (ours; openai/glow ran until stopped): 3000 x 98 = 294,000 steps.
    config_lib.apply_openai_schedule(config, num_gpus=8, image_size=64, epochs=3000)

    resolution = config_lib.pick_variant(variants, _RESOLUTIONS, default='')
    if resolution:
        config.strategy = 'multi_worker_mirrored'
        config.data.image_size = _RESOLUTIONS[resolution]
        config.data.shuffle_buffer = 1000
        config.model.num_levels = 5
        config.model.steps_per_level = 64
        config.model.coupling = 'additive'
        config.model.n_bits_x = 5
        # Budget (ours): 10,000 x 20 = 200,000 steps.
        config_lib.apply_openai_schedule(
            config, num_gpus=40, image_size=_RESOLUTIONS[resolution], epochs=10_000
        )
    if 'smoke' in variants:
        config_lib.apply_smoke(config)
    return config
