"""Few-shot Meta PixelCNN on Omniglot (Reed et al., 2018): a PixelCNN adapted by a learned loss.

Launch (reads the npz files of ../shared/data/omniglot):

  tfglow-train --config=configs/omniglot_meta_pixelcnn.py \
      --workdir=workdirs/omniglot_meta_pixelcnn
  tfglow-fewshot-eval --workdir=workdirs/omniglot_meta_pixelcnn --ks=1,2,5,10

Variants (`--config=configs/omniglot_meta_pixelcnn.py:<variant>`):
  first_order: stop gradients through the inner gradients (first-order MAML): cheaper steps, but
            the learned inner loss g then keeps its random initial weights (the outer loss does
            not depend on them); phi_0, the step sizes and the PixelCNN still learn.
  spatial:  phi is a 7x7 map of 8-entry vectors (`condition_grid`), one per 4x4 block of
            pixels, instead of one 32-entry vector that shifts every position alike.
  smoke:    a few steps of a tiny model, for tests (combines with the others).

The second of Reed et al.'s few-shot routes (`configs/omniglot_attention_pixelcnn.py` is the
first), trained and evaluated on the same episodes: per training batch a support size K uniform
in 1..5, then per episode K support images and a target of one of the 964 background classes
('train', "images_background"); evaluation on 1,000 fixed episodes (seed 0) of the 659 evaluation
classes ('test', never seen in training) with K = 5, the exact conditional NLL
-log p(target | support) in nats/image and bits/dim, and the specificity gap.

Model (`tfp_flows.MetaPixelCNN`): the PixelCNN of the attention config (8 gated layers of width
48, a Bernoulli output per pixel, `n_bits_x` 1) whose gated layers 1..7 each add a bias
`P_l phi` to their horizontal gate pre-activation. phi (32 entries) starts at a learned phi_0 and
takes one gradient step (`inner_steps`), with a learned step size per entry (initially 0.1), on
the learned inner loss: a 2-layer convolutional net g (width 32) that reads the last gated
layer's features of each support image (with the image) and outputs a scalar, averaged over the
valid support slots. The outer loss is the exact NLL of the target under the adapted phi,
differentiated through the inner step (second order). So the support reaches the next pixel only
through the gradient of g: no attention, no support encoder.

Expected result: the three PixelCNN routes side by side, each 1,000 steps of 16 episodes with
the same seed and episode stream (no rotated classes), on the 659 evaluation classes (seed 0,
exact NLL in nats/image of one held-out target per class; 20-way 1-shot likelihood
classification over 100 episodes with a 95% interval; sample fidelity: the share of 5-shot
samples landing in their support's class, real images 80.0%), measured 2026-12-06:

| route | K=1 | K=2 | K=5 | K=10 | none | gap K=5 | 1 alphabet | any | samples | img/s |
|---|---|---|---|---|---|---|---|---|---|---|
| meta | 72.29 | 72.19 | 72.14 | 72.13 | 73.69 | 0.91 | 18.4±1.8 | 27.2±1.6 | 7.1% | 43 |
| meta 1st order | 72.99 | 72.97 | 72.96 | 72.95 | 94.27 | 0.18 | 8.1±1.0 | 10.1±1.1 | 5.9% | 56 |
| meta spatial | 70.30 | 68.67 | 67.64 | 67.26 | 75.16 | 5.54 | 38.3±2.5 | 55.1±2.1 | 20.2% | 54 |
| attention | 70.85 | 70.70 | 70.59 | 70.56 | 84.67 | 0.81 | 15.0±1.4 | 20.8±1.6 | 8.4% | 18 |
| support map | 69.69 | 68.06 | 66.93 | 66.52 | 95.65 | 5.37 | 35.2±2.6 | 53.8±2.4 | 18.9% | 47 |

meta: this config; meta 1st order: `:first_order`; meta spatial: `:spatial`; attention:
`omniglot_attention_pixelcnn.py:attention_only`; support map: `omniglot_attention_pixelcnn.py`
with `--config.num_train_steps=1000 --config.episodes.rotate_train_classes=False` (its default
trains 10x longer on rotated classes: K=5 61.39). "none": no support; "gap": log P(target | 5
of its class) - log P(target | 5 of another class of its alphabet), standard errors 0.06-0.18;
"samples" at T = 1. Each row was evaluated with

  tfglow-fewshot-eval --workdir=<run> --checkpoint=1000 --ks=1,2,5,10 --ways=20 --shots=1 \
      --episodes=100 --episode_classes=within_alphabet,cross_alphabet --batch_size=100 \
      --analyses=sweep,specificity,classification,fidelity

(the attention and support-map runs were trained by an earlier revision with the same config
values; images/s on shared cores). What the numbers say:
- Meta and attention are close, as Reed et al. found (each about 0.07 nats/dim at 26x26 on
  their split; unconfirmed here): 0.092 vs 0.090 nats/dim at K=5. Attention's NLL is 1.5 nats
  better; the meta model is a little more class-specific (paired over the same episodes:
  +3.4 ± 2.1 points within one alphabet, +6.4 ± 2.3 across). Both beat the unconditional
  PixelCNN of the same size (72.93) but barely use which character the support shows (gaps
  under 1 nat).
- Second order matters: first order leaves g at its random weights, and the model learns to
  ignore the inner step (gap 0.18; 8-10% where chance is 5%), as the variant's note predicts.
- Neither route reaches Reed et al.'s level (about 0.07 nats/dim is about 47 nats/image at
  26x26): 16,000 training episodes on 2 CPU cores against their far longer runs, a 0.4M-parameter
  network, and fewer training alphabets (30 here, 45 there; 20 unseen test alphabets, 5 there).
- At equal steps the support map, a spatial summary of the support added to every layer, has
  about 6x the gap of either Reed et al. route. Our reading was that the meta route's 32-entry
  phi shifts every position alike, so one gradient step can say which character family but not
  where its strokes go. The `spatial` variant tests it: the same model and training, but phi a
  7x7 map of 8-entry vectors (each pixel reads its 4x4 block's cell). Its gap is 6x the vector
  phi's (5.54 vs 0.91), 92% of targets score higher under their own class's support, and it is
  much more class-specific (paired: +19.8 ± 2.6 points within one alphabet, +27.9 ± 2.5
  across), on a par with the support map (+3.0 ± 1.9 and +1.2 ± 2.2 points over it; K=5 NLL
  0.7 nats worse). In its fidelity grid several rows of samples share their support's outline,
  the rest are strokes in the alphabet's style. So the support reaches the next pixel through
  one gradient step of a learned loss as well as through a learned encoder, once the adapted
  conditioning can vary over the image.

Parameters: 0.41M (the PixelCNN's 0.36M, the projections P_l 22k, g 23k, phi_0 and the step
sizes 64); `:spatial` 0.39M (P_l 5k, phi_0 and the step sizes 784); the Attention PixelCNN has
0.42M.

Cost: seconds per training step of 16 episodes at K = 5, median and best of 3 interleaved
rounds, measured with

  python bench/fewshot_step_time.py --configs=configs/omniglot_meta_pixelcnn.py,\
configs/omniglot_meta_pixelcnn.py:first_order,configs/omniglot_attention_pixelcnn.py:\
attention_only,configs/omniglot_attention_pixelcnn.py

(2026-12-06, on the 2 CPU cores shared with two evaluations: only the ratios mean much): second
order 3.31 (best 3.05), first order 1.46 (1.29), the Attention PixelCNN 0.89 (0.84), the support
map 0.58 (0.53). Second order costs about 2.3x first order and 3.7x the attention model: every
inner step runs the network forward and backward over all 80 support images, and the outer
gradient goes back through that backward pass. Training wall times of the 1,000 steps, with
other jobs on the cores: 52 min (second order, beside the first-order run), 34 min (first
order), 16 and 15 min (attention, support map; an earlier, also shared, machine state), 60 min
(`:spatial`, beside a full test run). The spatial phi costs about 1.2x the vector phi's step
(`--configs=configs/omniglot_meta_pixelcnn.py,configs/omniglot_meta_pixelcnn.py:spatial`:
9.51 vs 11.56 s median, on cores shared with a test run and an evaluation): the biases are
gathered per pixel instead of broadcast.
"""

import ml_collections

from tfglow import config_lib

NATIVE_IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 964
VARIANTS = ('smoke', 'first_order', 'spatial')


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    """Returns the config for the variants named in `arg` (comma-separated; see VARIANTS)."""
    variants = config_lib.parse_variants(arg, VARIANTS)
    config = config_lib.base_config('meta_pixelcnn')
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
    if 'spatial' in variants:
        # A 7x7 map of 8-entry vectors: each phi cell covers a 4x4 block of pixels.
        config.model.condition_width = 8
        config.model.condition_grid = 7
    else:
        config.model.condition_width = 32
    config.model.inner_steps = 1
    config.model.inner_step_size = 0.1
    config.model.first_order = 'first_order' in variants
    config.model.inner_loss_width = 32
    config.model.inner_loss_layers = 2
    config.episodes.k_min = 1
    config.episodes.k_max = 5
    config.episodes.eval_support_size = 5

    config.batch_size = 16
    config.eval_batch_size = 25
    config.num_train_steps = 1000
    config.optimizer = 'adam'
    config.learning_rate = 1e-3
    config.warmup_steps = 200
    config.ema_decay = 0.999
    config.log_every_steps = 50
    config.checkpoint_every_steps = 500
    config.eval_every_steps = 2000
    config.num_eval_examples = 1000
    config.num_samples = 16

    if 'smoke' in variants:
        config_lib.apply_smoke(config)
    return config
