"""Few-shot Meta PixelCNN on Omniglot (Reed et al., 2018): a PixelCNN adapted by a learned loss.

Launch (reads the npz files of ../shared/data/omniglot):

  tfglow-train --config=configs/omniglot_meta_pixelcnn.py \
      --workdir=workdirs/omniglot_meta_pixelcnn
  tfglow-fewshot-eval --workdir=workdirs/omniglot_meta_pixelcnn --ks=1,2,5,10

Variants (`--config=configs/omniglot_meta_pixelcnn.py:<variant>`):
  first_order: stop gradients through the inner gradients (first-order MAML): cheaper steps, but
            the learned inner loss g then keeps its random initial weights (the outer loss does
            not depend on them); phi_0, the step sizes and the PixelCNN still learn.
  smoke:    a few steps of a tiny model, for tests (combines with first_order).

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

Target: Reed et al. found the attention and meta routes close on Omniglot (about 0.07 nats/dim
apart at 26x26 on their split, unconfirmed); the meta model should beat the unconditional
baseline (`omniglot_attention_pixelcnn.py:pixelcnn`, 72.93 nats/image on the 659 classes) and
come near the Attention PixelCNN (70.58 at K = 5). Not yet trained: no measured NLL.

Parameters: 0.41M (the PixelCNN's 0.36M, the projections P_l 22k, g 23k, phi_0 and the step
sizes 64); the Attention PixelCNN has 0.42M.

Cost: seconds per training step of 16 episodes at K = 5, median and best of 5 interleaved
rounds, measured with

  python bench/fewshot_step_time.py --rounds=5 --configs=configs/omniglot_meta_pixelcnn.py,\
configs/omniglot_meta_pixelcnn.py:first_order,configs/omniglot_attention_pixelcnn.py,\
configs/omniglot_attention_pixelcnn.py:pixelcnn

(2026-12-06, on the 2 CPU cores shared with a training run, at nice 19: noisy, only the ratios mean
much): second order 4.16 (best 2.80), first order 1.86 (1.16), the Attention PixelCNN 1.27
(0.75), the plain PixelCNN on 16 images 0.45 (0.33). Second order costs about 2.3x first order
and 3.5x the attention model: every inner step runs the network forward and backward over all 80
support images, and the outer gradient goes back through that backward pass. So the 1,000 steps
(K uniform in 1..5) should take under 70 minutes on these cores.
"""

import ml_collections

from tfglow import config_lib

NATIVE_IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 964
VARIANTS = ('smoke', 'first_order')


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
