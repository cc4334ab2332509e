"""Glow on CIFAR-10, as in the Glow paper (Kingma & Dhariwal, 2018), and its ablation.

Launch (openai/glow used 8 GPUs; `mirrored` uses every GPU on the host):

  tfglow-train --config=configs/cifar10_glow.py --workdir=workdirs/cifar10_glow

Ablation (the paper's Figure 3; permutation x coupling, each with seeds 0, 1, 2):

  tfglow-train --config=configs/cifar10_glow.py:reverse_additive --config.seed=1 \
      --workdir=workdirs/cifar10_glow_reverse_additive_1

Variants: `<permutation>_<coupling>` for permutation reverse / shuffle / invconv and coupling
additive / affine (`invconv_affine` is the default), and `smoke`, which combines with the others
(`:shuffle_affine,smoke`).

Target: 3.35 bits/dim on the test set (paper, Table 2; RealNVP 3.49). The ablation has no table:
Figure 3 shows the 1x1 convolution beating shuffle beating reverse for both couplings; the runs'
logs are in openai/glow's README (abl-[reverse/shuffle/1x1]-[add/aff].tar).

Image shape [32, 32, 3], 10 classes. Hyperparameters from openai/glow's README command
(`--n_level 3 --depth 32 --flow_permutation 2 --flow_coupling 1 --learntop --lr 0.001
--n_bits_x 8`) and train.py defaults (width 512, Adamax, batch 64 per GPU, warmup 10 epochs).

Batches are global: 8 GPUs x 64 = 512, split across replicas. On fewer devices lower
`--config.batch_size` and scale `warmup_steps` (977 = 10 * 50,000 / 512) and `beta2` / `ema_decay`
(1 - 1/98, 98 = 50,000 / 512) to match, or keep 512 if it fits.

Difference from openai/glow: it trained on randomly translated images (up to 10%, its `--dal 1`
default); the schema has no augmentation, so expect more overfitting than in the paper.
"""

import ml_collections

from tfglow import config_lib

NATIVE_IMAGE_SHAPE = (32, 32, 3)
NUM_CLASSES = 10
_ABLATIONS = {
    f'{permutation}_{coupling}': (permutation, coupling)
    for permutation in ('reverse', 'shuffle', 'invconv')
    for coupling in ('additive', 'affine')
}
VARIANTS = ('smoke', *_ABLATIONS)


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    """Returns the config for the variants named in `arg` (comma-separated; see VARIANTS)."""
    variants = config_lib.parse_variants(arg, VARIANTS)
    config = config_lib.base_config()
    config.strategy = 'mirrored'

    config.data.source = 'tfds'
    config.data.name = 'cifar10'
    config.data.image_size = 0

    ablation = config_lib.pick_variant(variants, _ABLATIONS, default='invconv_affine')
    config.model.permutation, config.model.coupling = _ABLATIONS[ablation]
    config.model.num_levels = 3
    config.model.steps_per_level = 32
    config.model.hidden_width = 512
    config.model.learn_top = True
    config.model.n_bits_x = 8

    config.optimizer = 'adamax'
    config.learning_rate = 1e-3
    # Training budget (ours; openai/glow ran until stopped): 2000 x 98 = 196,000 steps.
    config_lib.apply_openai_schedule(config, num_gpus=8, image_size=32, epochs=2000)

    if 'smoke' in variants:
        config_lib.apply_smoke(config)
    return config
