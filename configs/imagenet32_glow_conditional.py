"""Class-conditional Glow on ImageNet 32x32 (the paper's y-conditioned ImageNet samples).

Launch (openai/glow used 8 GPUs; `mirrored` uses every GPU on the host):

  tfglow-train --config=configs/imagenet32_glow_conditional.py \
      --workdir=workdirs/imagenet32_glow_conditional

Data: tensorflow-datasets `imagenet_resized/32x32` (1000 classes), the labelled counterpart of
openai/glow's "imagenet" set. openai/glow centre-cropped and area-downsampled; imagenet_resized
box-resizes whole images, so samples are comparable but not identical. Its download may require
ImageNet credentials (see the tfds catalog).

Variants: `smoke` (a few steps of a tiny class-conditional model, for tests).

Target: qualitative, as in openai/glow's README ("Conditional ImageNet 32x32 Qualitative
result"); no bits/dim is reported, and 5-bit numbers are not comparable with 8-bit ones.

Image shape [32, 32, 3], 1000 classes. Hyperparameters from openai/glow's README command
(`--problem imagenet --image_size 32 --n_level 3 --depth 48 --flow_permutation 2
--flow_coupling 0 --learntop --lr 0.001 --n_bits_x 5 --ycond --weight_y=0.01`).

Batches are global: 8 GPUs x 64 = 512, split across replicas; see configs/imagenet32_glow.py.
"""

import ml_collections

from tfglow import config_lib

NATIVE_IMAGE_SHAPE = (32, 32, 3)
NUM_CLASSES = 1000
VARIANTS = ('smoke',)


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    """Returns the config for the variants named in `arg` (comma-separated; see VARIANTS)."""
    variants = config_lib.parse_variants(arg, VARIANTS)
    config = config_lib.base_config()
    config.strategy = 'mirrored'

    config.data.source = 'tfds'
    config.data.name = 'imagenet_resized/32x32'
    config.data.image_size = 0
    config.data.eval_split = 'validation'

    config.model.num_levels = 3
    config.model.steps_per_level = 48
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
