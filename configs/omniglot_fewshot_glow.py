"""Few-shot Glow on Omniglot: exact conditional densities given a support set of a new class.

Launch (reads the npz files of ../shared/data/omniglot):

  tfglow-train --config=configs/omniglot_fewshot_glow.py --workdir=workdirs/omniglot_fewshot_glow

Variants (`--config=configs/omniglot_fewshot_glow.py:<variant>`):
  unconditional: the same Glow with no set encoder (`context` 'none'), trained on the same target
                 images: the baseline that ignores the support.
  uniform:       uniform dequantisation (openai/glow's), no learned q: the model of the first
                 release, for comparison.
  smoke:         a few steps of a tiny model, for tests (combines with the others).

Training: episodes of the 964 background classes ('train', "images_background"): per batch a
support size K uniform in 1..5, then per episode K support images and a target, all of one class,
the target not in the support. Evaluation: 1,000 fixed episodes (seed 0) of the 659 evaluation
classes ('test', "images_evaluation", never seen in training) with K = 5.

What the number is: Omniglot is binary, so `n_bits_x` is 1: each pixel is one of two levels,
dequantised with uniform noise of width 1/2, and the reported nats/image is
`784 log 2 - log mean_i p(target + u_i | support)` over 4 noise draws u_i: an upper bound (in
expectation) on the discrete NLL -log P(target | support), tightened by the 4 draws. The training
log shows the same quantity with one draw.

Target: for scale, SCHA-VAE (Giannone & Winther, ICML 2022) reports 71.5 nats/image on this
background/evaluation split with 5-shot sets (also a bound).

Measured (2026-11-22, 2 CPU cores shared with 3-4 other jobs; the default and the
`unconditional` variant, then `tfglow-fewshot-eval --workdir=<this run>
--baseline_workdir=<unconditional run> --noise_samples=8`, all 659 evaluation classes, one
held-out target each, importance-weighted bound over 8 draws, nats/image +- standard error):

  K = 1: 116.42 +- 1.16, 2: 114.71, 5: 113.45, 10: 113.06, 19: 112.81 +- 1.13
  same model, empty support: 134.91; the unconditional variant: 115.11 +- 1.16

so the NLL falls with every added support image (paired over the same targets and noise: by
1.71 +- 0.15 nats from K = 1 to 2, 3.61 +- 0.20 to K = 19) and beats the unconditional Glow from
K = 5 on (+1.65 +- 0.23 nats at K = 5, +2.30 +- 0.23 at K = 19; at K = 2 +0.40 +- 0.26, at K = 1
-1.31 +- 0.30). The standard (one-draw) bound reads about 9 nats higher throughout.

Likelihood-based classification (`--analyses=classification --noise_samples=1`, 600 episodes,
95% intervals): 5-way 1-shot 79.3% +- 1.5, 5-way 5-shot 92.4% +- 1.0, 20-way 1-shot
62.2% +- 0.9, 20-way 5-shot 80.7% +- 0.7. Training took 58 minutes
(the unconditional variant 31) on the shared cores. These bounds are far above SCHA-VAE's 71.5
and the Attention PixelCNN's exact 70.6 (configs/omniglot_attention_pixelcnn.py); how much of
that gap is the looseness of a dequantised bound on binary pixels, and how much the model, these
runs cannot tell.

Variational dequantisation, a first measurement (2026-12-06, 300 steps only, same shared cores,
`nice -n 19 python tools/train.py --config=configs/omniglot_fewshot_glow.py[:vardeq]
--config.num_train_steps=300 --config.num_eval_examples=200 --workdir=...`): training bound at
step 300 129.0 nats/image (vardeq) vs 250.6 (uniform); evaluation (EMA weights, 200 episodes,
K = 5, IW over 4 draws) 126.7 vs 242.0; `tfglow-fewshot-eval --noise_samples=256 --ks=1,5
--max_classes=20 --analyses=sweep,classification --ways=5 --shots=1 --episodes=10` (20 targets):
K = 5 IW bound over 256 draws 111.8 +- 5.7 vs 213.7 +- 5.6 (standard bound 121.4 vs 244.7),
K = 1 114.5 vs 216.3. Both trained at the same speed (about 50-60 episodes/s here). Much of
the uniform bound's excess is the flow having to model a flat box per binary pixel; q learns
where in the box p puts its mass. Not yet measured: the full 8,000-step run. The specificity gap
(evaluation, K = 5) was 3.82 nats (vardeq) vs 4.38 (uniform); adding a full-resolution support map
to the finest level (`--config.model.support_map_width=16`, with vardeq) gave 128.9 nats/image
and a gap of 3.75 at step 300: no gain visible yet at this length.

Image shape [28, 28, 1] with 2 levels (28 = 4 x 7 fits 2 squeezes; the top latent is 7x7x8).
Model: 2 levels of 8 steps, coupling width 64, learned top prior; a set encoder (width 32) with
4-head attention pooling gives each level a 16-channel spatial context read by every coupling,
split prior and the top prior: 0.41M parameters (the unconditional variant 0.16M). Throughput on
2 shared CPU cores (60-step runs, 2026-11-22): about 140 episodes/s (0.23 s per batch of 32), so
the 8,000 steps take about 30 minutes alone; the unconditional variant about 300 episodes/s.
"""

import ml_collections

from tfglow import config_lib

NATIVE_IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 964
VARIANTS = ('smoke', 'unconditional', 'uniform')


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    """Returns the config for the variants named in `arg` (comma-separated; see VARIANTS)."""
    variants = config_lib.parse_variants(arg, VARIANTS)
    config = config_lib.base_config('fewshot_glow')
    config.strategy = 'default'

    config.data.source = 'omniglot_npz'
    config.data.name = 'omniglot'
    config.data.image_size = 0
    config.data.train_split = 'train'
    config.data.eval_split = 'test'

    config.model.num_levels = 2
    config.model.steps_per_level = 8
    config.model.hidden_width = 64
    config.model.learn_top = True
    config.model.context = 'none' if 'unconditional' in variants else 'spatial'
    config.model.context_channels = 16
    config.model.encoder_width = 32
    config.model.pooling = 'attention'
    config.model.num_heads = 4
    config.model.n_bits_x = 1
    config.model.support_map_width = 0
    config.model.dequantization = 'uniform' if 'uniform' in variants else 'variational'
    config.model.dequantizer_couplings = 3
    config.model.dequantizer_width = 32

    config.episodes.k_min = 1
    config.episodes.k_max = 5
    config.episodes.eval_support_size = 5
    config.episodes.eval_noise_samples = 4

    config.batch_size = 32
    config.eval_batch_size = 100
    config.num_train_steps = 8000
    config.warmup_steps = 500
    config.ema_decay = 0.999
    config.n_batch_init = 256
    config.log_every_steps = 50
    config.checkpoint_every_steps = 1000
    config.eval_every_steps = 2000
    config.num_eval_examples = 1000
    config.num_samples = 16

    if 'smoke' in variants:
        config_lib.apply_smoke(config)
    return config
