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

What the number is: Omniglot is binary, so `n_bits_x` is 1: each pixel is one of two levels.
The default dequantises it variationally (Flow++, `config.model.dequantization='variational'`):
a learned noise distribution q(u | target) (`tfp_flows.VariationalDequantizer`, 3 checkerboard
couplings of width 32, trained jointly; it starts as the uniform noise) and the reported
nats/image is `784 log 2 - log mean_i [p(target + u_i | support) / q(u_i | target)]` over S
draws u_i ~ q: an upper bound (in expectation) on the discrete NLL -log P(target | support),
tightened by the S draws (importance weighting). Training evaluates with S = 4; the training log
shows the one-draw bound. `:uniform` is openai/glow's uniform noise (q = 1).

Target (the few-shot specificity issue's goals): K=5 <= 85 nats/image (a bound over >= 256
draws) and a K=1 -> K=10 gain >= 4; likelihood classification 20-way 1-shot >= 80% within one
alphabet, >= 95% across, 5-way 1-shot >= 98%; samples in their support's class at >= 90% of real
images' rate. For scale, SCHA-VAE (Giannone & Winther, ICML 2022) reports 71.5 nats/image on
this background/evaluation split with 5-shot sets (also a bound).

Measured (2026-12-06, the default; 2 CPU cores shared with the PixelCNN's training and other
jobs; training 50 minutes for the 8,000 steps, its own evaluation at step 8,000: 76.34
nats/image (S = 4), specificity gap 10.70. Then `tfglow-fewshot-eval --workdir=<run>
--analyses=sweep --ks=1,2,5,10 --noise_samples=256`, all 659 evaluation classes, one held-out
target each, importance-weighted bound over 256 draws of q, nats/image +- standard error):

  K = 1: 75.26 +- 0.97, 2: 73.61, 5: 72.38, 10: 72.00 +- 0.94; empty support 91.40
  (the standard one-draw-average bound over the same draws: 82.29, 80.50, 79.16, 78.71)
  gain K=1 -> K=10 (paired): 3.26 +- 0.17 nats (IW), 3.58 +- 0.17 (standard)

and `--analyses=specificity,classification,fidelity --ks=1,5 --noise_samples=1 --ways=5,20
--shots=1 --episodes=200 --episode_classes=within_alphabet,cross_alphabet` (the default
`--fidelity_temperatures=0.6,0.8`, plus 1): specificity gap K=1 9.17 +- 0.35, K=5 10.57 +- 0.31
(95% of targets prefer their own class); 20-way 1-shot 51.1% +- 1.9 within one alphabet,
70.3% +- 1.4 across; 5-way 1-shot 74.9% +- 2.8 within, 84.4% +- 2.3 across; sample fidelity
(20-way 5-shot, 10 within-alphabet episodes, real images 80.0% +- 4.8): 58.1% +- 5.2 at T = 0.6
(0.73 of real), 47.5% at 0.8, 35.6% at 1; sampling about 170 images/s (shared cores).
Lower temperatures (`--fidelity_temperatures=0.4,0.5`): 65.5% +- 7.9 at T = 0.4 (0.82 of real,
the best), 62.4% at 0.5.

The first release (uniform dequantisation, 8,000 steps, 58 minutes, measured 2026-11-22 with
`--noise_samples=8`): K = 1 116.42, 5 113.45, 10 113.06, 19 112.81; the unconditional variant
115.11; 20-way 1-shot 62.2% across alphabets (600 episodes). Variational dequantisation more
than halved the bound's excess at equal steps (300-step runs: 129.0 vs 250.6 nats/image in
training) and made the model use the support (gap ~10.6 nats). A full-resolution support map at
the finest level (`--config.model.support_map_width=16`) showed no gain in a 300-step run and is
off.

Image shape [28, 28, 1] with 2 levels (28 = 4 x 7 fits 2 squeezes; the top latent is 7x7x8).
Model: 2 levels of 8 steps, coupling width 64, learned top prior; a set encoder (width 32) with
4-head attention pooling gives each level a 16-channel spatial context read by every coupling,
split prior and the top prior: 0.41M parameters (the unconditional variant 0.16M), plus
55,480 in the dequantiser q. Throughput: about 90 episodes/s with q on the 2 shared cores
(2026-12-06, beside another training), so the 8,000 steps took 50 minutes; with uniform noise
about 140 episodes/s (2026-11-22, 60-step runs); the unconditional variant about 300.
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
