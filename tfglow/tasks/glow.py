"""Glow (`config.model.name = 'glow'`): dequantised images, bits/dim, openai/glow's `weight_y`.

```none
x     = dequantize(preprocess(images, n_bits), noise)          noise ~ U(0, 1) from the input
loss  = bits_per_dim(model.log_prob(x)) [+ weight_y * bits_y]  per example
```
"""

import math

import tensorflow as tf
from absl import logging

import tfp_flows.dequantization as dq
from tfglow import data, evaluate, images, pixels
from tfglow.models import glow
from tfglow.tasks import base

__all__ = ['GlowTask', 'glow_loss']


def glow_loss(
    model, batch: dict, n_bits: int, *, class_conditional: bool, weight_y: float
) -> tuple[tf.Tensor, tf.Tensor]:
    """Per-example training loss and bits/dim for a batch `{'image', 'label', 'noise'}`.

    Returns:
      `(loss, bits_x)`, both `[B]`: `bits_x` is the dequantised images' bits/dim and
      `loss = bits_x + weight_y * bits_y`, with `bits_y` the class cross-entropy in bits (only for
      class-conditional models with `weight_y > 0`; otherwise `loss = bits_x`).
    """
    image = batch['image']
    num_dims = image.shape[1:].num_elements()
    x = dq.dequantize(dq.preprocess(image, n_bits), n_bits, noise=batch['noise'])
    if class_conditional and weight_y > 0:
        log_prob, logits = model.log_prob_and_class_logits(x, batch['label'])
        nats_y = tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=batch['label'], logits=logits
        )
        bits_x = dq.bits_per_dim(log_prob, num_dims, n_bits)
        return bits_x + weight_y * nats_y / math.log(2.0), bits_x
    log_prob = model.log_prob(x, label=batch['label']) if class_conditional else model.log_prob(x)
    bits_x = dq.bits_per_dim(log_prob, num_dims, n_bits)
    return bits_x, bits_x


class GlowTask(base.ImageTask):
    """Glow on images, unconditional or class-conditional, as openai/glow trains it.

    Data-dependent init: one explicit `model.initialize(...)` on the first `n_batch_init` images of
    a seed-fixed, unsharded pipeline, the same batch on every worker.
    Evaluation: bits/dim of the evaluation split (one dequantisation noise draw per image, seeded
    by its position; see `tfglow.evaluate.BitsPerDimEvaluator`).
    """

    @property
    def class_conditional(self) -> bool:
        return bool(self.config.model.class_conditional)

    def build_model(self):
        return glow.build_model(
            self.config.model, self.image_shape, self.info.num_classes, seed=self.config.seed
        )

    def initialize(self, model) -> None:
        config = self.config
        dataset = data.make_dataset(
            config.data,
            config.data.train_split,
            config.n_batch_init,
            training=True,
            seed=config.seed,
        )
        batch = next(iter(dataset))
        n_bits = config.model.n_bits_x
        x = dq.dequantize(
            dq.preprocess(batch['image'], n_bits),
            n_bits,
            seed=tf.constant([config.seed, base.INIT_NOISE_STREAM], tf.int64),
        )
        logging.info('Data-dependent init on %d images.', x.shape[0])
        model.initialize(x, label=batch['label'] if self.class_conditional else None)

    def is_initialized(self, model) -> bool:
        return bool(model.is_initialized)

    def train_dataset(self, input_context, start_step):
        dataset, first_index = self.train_images(input_context, start_step)
        seed = base.noise_seed(
            self.config.seed, base.TRAIN_NOISE_STREAM, input_context.input_pipeline_id
        )
        return base.add_uniform_noise(dataset, 'image', seed, first_index)

    def loss(self, model, batch):
        loss, bits_x = glow_loss(
            model,
            batch,
            self.config.model.n_bits_x,
            class_conditional=self.class_conditional,
            weight_y=self.config.model.weight_y,
        )
        return loss, {'bits_per_dim': bits_x}

    def make_evaluator(self, model, strategy):
        dataset = self.eval_images()
        evaluator = evaluate.BitsPerDimEvaluator(
            model,
            self.config.model.n_bits_x,
            strategy=strategy,
            use_labels=self.class_conditional,
            seed=self.config.seed,
        )
        return lambda: {'bits_per_dim': evaluator(dataset)}

    def sample_grids(self, model):
        """One grid per temperature, one row per class when class-conditional.

        Every temperature uses the same seed, so the grids show the same latents scaled
        differently.
        """
        config = self.config
        num_classes = self.info.num_classes if self.class_conditional else 0
        num_rows, num_cols = base.grid_layout(config.num_samples, num_classes)
        label = tf.repeat(tf.range(num_rows, dtype=tf.int32), num_cols) if num_classes else None
        grids = {}
        for temperature in config.sample_temperatures:
            x = model.sample(
                num_rows * num_cols, temperature=temperature, label=label, seed=config.seed
            )
            shown, overflowed = pixels.sample_images(x, config.model.n_bits_x)
            if overflowed:
                logging.warning(
                    'Sample grid T=%s: %d of %d samples overflow (not finite), drawn as '
                    'checkerboards; sample at a lower temperature or train longer.',
                    temperature,
                    overflowed,
                    len(shown),
                )
            grids[float(temperature)] = images.make_grid(shown, num_rows)
            if temperature == 0:
                logging.info('Sample grid %s.', images.ZERO_TEMPERATURE_MEANING)
        return grids
