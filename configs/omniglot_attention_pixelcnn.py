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
  support_map: the attention model plus a location-dependent support map
            (`tfp_flows.networks.SupportMap`, map_width 32, 3 convolutions): every gated layer
            reads, at each pixel, the masked mean over the support of a full-resolution encoding
            of the support images, so where the support has ink tells the target's pixel directly.
            Built to make the likelihood specific to the support's character (the specificity
            gap and within-alphabet classification of `tfglow-fewshot-eval
            --analyses=specificity --episode_classes=within_alphabet`); not yet the default until
            measured with the evaluator on the full split. `--config.model.attention=False`
            keeps the map alone (no attention). Measured (2026-12-06, 1,000 steps, 13.5 min on
            the shared 2 cores; `tfglow-fewshot-eval --workdir=<run> --ks=1,5,10 --ways=5,20
            --shots=1 --episodes=200 --episode_classes=cross_alphabet,within_alphabet
            --analyses=sweep,specificity,classification`, 18 min): exact NLL K=1 70.10, K=5
            67.67, K=10 67.28 (gain 2.82 +- 0.15); specificity gap K=1 3.64 +- 0.23, K=5
            4.37 +- 0.15; 20-way 1-shot 33.3% +- 1.7 within one alphabet, 49.9% +- 1.6 across;
            5-way 1-shot 68.8% +- 3.0 across. (The default model: gap ~0.8, 15% within.)
  smoke:    a few steps of a tiny model, for tests (combines with pixelcnn and support_map).

Training: episodes of the 964 background classes ('train', "images_background"): per batch a
support size K uniform in 1..5, then per episode K support images and a target, all of one class,
the target not in the support. Evaluation: 1,000 fixed episodes (seed 0) of the 659 evaluation
classes ('test', "images_evaluation", never seen in training) with K = 5: the exact conditional
NLL -log p(target | support) in nats/image and bits/dim.

Target: for scale, SCHA-VAE (Giannone & Winther, ICML 2022) reports 71.5 nats/image on this
background/evaluation split with 5-shot sets (a variational bound), and Reed et al. found
attention clearly best on Omniglot; the attention model should beat the `pixelcnn` baseline.

Measured (2026-11-22, 2 CPU cores shared with 3-4 other jobs; both variants, then
`tfglow-fewshot-eval --workdir=<this run> --baseline_workdir=<pixelcnn run> --ks=1,2,5,10`, all
659 evaluation classes, one held-out target each, exact NLL in nats/image +- standard error):

  attention, K = 1: 70.84 +- 0.90, 2: 70.69, 5: 70.58, 10: 70.55 +- 0.90
  the same model with an empty support: 84.66; the pixelcnn baseline: 72.93 +- 0.92

Paired over the same targets, the attention model beats the baseline by 2.09 +- 0.10 nats at
K = 1 and 2.38 +- 0.10 at K = 10, but gains only 0.29 +- 0.03 nats from 1 to 10 images after
this short training (1,000 steps: 33 minutes, the
baseline 22, on the shared cores). Training's own evaluation (1,000 episodes, K = 5): 69.21;
the baseline on all 13,180 evaluation images: 72.56.

Image shape [28, 28, 1], binary (ink = 1): `n_bits_x` 1 and a Bernoulli output per pixel, so the
likelihood is of the binary images themselves. Model: 8 gated layers of width 48; the attention
variant adds a 2-layer support encoder (width 32, positional channels) average-pooled to one key
per 4x4 patch (7x7 per support image) and 4-head attention (keys and values 16 per head) in
layers 1, 4 and 7: 0.42M parameters (the baseline 0.36M).

Sized for a 2-core CPU: a training step of 16 episodes (K = 5) takes 1.3 s on a quiet machine
(the baseline 0.6 s), so the 1,000 steps take about 20 minutes (10). On a CPU the attention is
memory-bound on its `[B, heads, 784, K * M]` logits: with 12 layers of width 64, a step took
6.7 s with a key per 2x2 patch (`support_pool` 2) and 3.8 s per 4x4 patch (quiet machine).
Reed et al. trained far larger models for far longer; expect lower NLLs from more layers, width
and steps.
"""

import ml_collections

from tfglow import config_lib

NATIVE_IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 964
VARIANTS = ('smoke', 'pixelcnn', 'attention', 'attention_only')


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    """Returns the config for the variants named in `arg` (comma-separated; see VARIANTS)."""
    variants = config_lib.parse_variants(arg, VARIANTS)
    route = config_lib.pick_variant(variants, ('pixelcnn', 'attention', 'attention_only'), 'map')
    baseline = route == 'pixelcnn'
    config = config_lib.base_config('pixelcnn' if baseline else 'attention_pixelcnn')
    config.strategy = 'default'

    config.data.source = 'omniglot_npz'
    config.data.name = 'omniglot'
    config.data.image_size = 0
    config.data.train_split = 'train'
    config.data.eval_split = 'test'

    config.model.output = 'bernoulli'
    config.model.num_layers = 8
    config.model.hidden_width = 48
    config.model.n_bits_x = 1
    if baseline:
        config.model.class_conditional = False
    else:
        config.model.num_heads = 4
        config.model.key_width = 16
        config.model.value_width = 16
        config.model.encoder_width = 32
        config.model.encoder_layers = 2
        # A key per 4x4 patch of each support image (7x7 per image): 1/16 of the attention's time
        # and memory of a key per pixel, which on a CPU is memory-bound on the logits.
        config.model.support_pool = 4
        config.model.attention = route != 'map'
        if route != 'attention_only':
            config.model.map_width = 32
            config.model.map_layers = 3
        config.episodes.k_min = 1
        config.episodes.k_max = 5
        config.episodes.eval_support_size = 5
        # Each background class turned by 90, 180 and 270 degrees is three more classes.
        config.episodes.rotate_train_classes = route != 'attention_only'

    config.batch_size = 16
    # Attention weights of 25 targets x 5 supports are about 1.2 GB per layer; the map alone
    # needs a fraction of that.
    config.eval_batch_size = 25 if config.model.get('attention', False) else 100
    config.num_train_steps = 1000 if route in ('pixelcnn', 'attention_only') else 10000
    config.optimizer = 'adam'
    config.learning_rate = 1e-3
    config.warmup_steps = 200
    config.ema_decay = 0.999
    config.log_every_steps = 50
    config.checkpoint_every_steps = 500 if config.num_train_steps <= 1000 else 1000
    config.eval_every_steps = 2000
    # Attention: 1,000 evaluation episodes; baseline: every evaluation image (13,180).
    config.num_eval_examples = 0 if baseline else 1000
    config.num_samples = 16

    if 'smoke' in variants:
        config_lib.apply_smoke(config)
    return config
