"""Few-shot Attention PixelCNN on Omniglot (Reed et al., 2018), and its unconditional baseline.

Launch (reads the npz files of ../shared/data/omniglot):

  tfglow-train --config=configs/omniglot_attention_pixelcnn.py \
      --workdir=workdirs/omniglot_attention_pixelcnn
  tfglow-train --config=configs/omniglot_attention_pixelcnn.py:pixelcnn \
      --workdir=workdirs/omniglot_pixelcnn

Variants (`--config=configs/omniglot_attention_pixelcnn.py:<variant>`):
  pixelcnn: the baseline, an unconditional PixelCNN of the same size (the same gated layers
            without the attention) trained on the same 19,280 background images; evaluated on
            the images of the 659 evaluation classes.
  smoke:    a few steps of a tiny model, for tests (combines with pixelcnn).

Training: episodes of the 964 background classes ('train', "images_background"): per batch a
support size K uniform in 1..5, then per episode K support images and a target, all of one class,
the target not in the support. Evaluation: 1,000 fixed episodes (seed 0) of the 659 evaluation
classes ('test', "images_evaluation", never seen in training) with K = 5: the exact conditional
NLL -log p(target | support) in nats/image and bits/dim.

Target: for scale, SCHA-VAE (Giannone & Winther, ICML 2022) reports 71.5 nats/image on this
background/evaluation split with 5-shot sets (a variational bound), and Reed et al. found
attention clearly best on Omniglot; the attention model should beat the `pixelcnn` baseline.
Measured: TBD: measured by the lead (and the K = 1, 2, 5, 10 sweep by the few-shot evaluation
tool).

Image shape [28, 28, 1], binary (ink = 1): `n_bits_x` 1 and a Bernoulli output per pixel, so the
likelihood is of the binary images themselves. Model: 12 gated layers of width 64; the attention
variant adds a 2-layer support encoder (width 32, positional channels) and 4-head attention
(keys and values 16 per head) in layers 2, 5, 8 and 11: 1.08M parameters (the baseline 0.98M).
Throughput on 2 shared CPU cores (60-step runs, 2026-11-22): attention about 3.9 episodes/s (4.1 s
per batch of 16, 9.8 GB peak memory: the attention weights are [B, heads, 784, K * 784] per
layer), so 5,000 steps take about 5.7 hours; the baseline about 20 images/s (0.8 s per step).
"""

import ml_collections

from tfglow import config_lib

NATIVE_IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 964
VARIANTS = ('smoke', 'pixelcnn')


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    """Returns the config for the variants named in `arg` (comma-separated; see VARIANTS)."""
    variants = config_lib.parse_variants(arg, VARIANTS)
    baseline = 'pixelcnn' in variants
    config = config_lib.base_config('pixelcnn' if baseline else 'attention_pixelcnn')
    config.strategy = 'default'

    config.data.source = 'omniglot_npz'
    config.data.name = 'omniglot'
    config.data.image_size = 0
    config.data.train_split = 'train'
    config.data.eval_split = 'test'

    config.model.output = 'bernoulli'
    config.model.num_layers = 12
    config.model.hidden_width = 64
    config.model.n_bits_x = 1
    if baseline:
        config.model.class_conditional = False
    else:
        config.model.num_heads = 4
        config.model.key_width = 16
        config.model.value_width = 16
        config.model.encoder_width = 32
        config.model.encoder_layers = 2
        config.episodes.k_min = 1
        config.episodes.k_max = 5
        config.episodes.eval_support_size = 5

    config.batch_size = 16
    # Attention weights of 25 targets x 5 supports are about 1.2 GB per layer.
    config.eval_batch_size = 25
    config.num_train_steps = 5000
    config.optimizer = 'adam'
    config.learning_rate = 1e-3
    config.warmup_steps = 200
    config.ema_decay = 0.999
    config.log_every_steps = 50
    config.checkpoint_every_steps = 500
    config.eval_every_steps = 2000
    # Attention: 1,000 evaluation episodes; baseline: every evaluation image (13,180).
    config.num_eval_examples = 0 if baseline else 1000
    config.num_samples = 16

    if 'smoke' in variants:
        config_lib.apply_smoke(config)
    return config
