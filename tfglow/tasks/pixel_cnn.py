"""Gated PixelCNN (`config.model.name = 'pixelcnn'`): exact likelihoods of images, no noise.

```none
levels = images // 2**(8 - n_bits)                   {0..255} (categorical, logistic) or {0, 1}
nats   = -model.log_prob(levels[, label])            exact discrete NLL, per image
loss   = nats / (H * W * C * ln 2)                   bits/dim
```
"""

from tfglow import evaluate, images, pixels
from tfglow.models import pixel_cnn
from tfglow.tasks import base

__all__ = ['PixelCNNTask']


class PixelCNNTask(base.ImageTask):
    """A PixelCNN on images, unconditional or class-conditional (`config.model.class_conditional`).

    No data-dependent init. Evaluation: the exact negative log-likelihood of the evaluation
    split's images in nats/image and bits/dim (no dequantisation, so no bound).
    """

    metric_names = ('bits_per_dim', 'nats_per_image')

    @property
    def class_conditional(self) -> bool:
        return bool(self.config.model.class_conditional)

    def build_model(self):
        return pixel_cnn.build_pixel_cnn(
            self.config.model, self.image_shape, self.info.num_classes, seed=self.config.seed
        )

    def train_dataset(self, input_context, start_step):
        return self.train_images(input_context, start_step)[0]

    def loss(self, model, batch):
        levels = pixels.to_levels(batch['image'], self.config.model.n_bits_x)
        label = {'label': batch['label']} if self.class_conditional else {}
        return base.nats_metrics(-model.log_prob(levels, **label), self.num_dims)

    def make_evaluator(self, model, strategy):
        dataset = self.eval_images()
        evaluator = evaluate.MeanEvaluator(
            lambda batch: self.loss(model, batch)[1], self.metric_names, strategy=strategy
        )
        return lambda: evaluator(dataset)

    def sample_grids(self, model):
        """A grid of samples per `config.sample_temperatures` (1 = the model exactly); one row per
        class when class-conditional."""
        config = self.config
        num_classes = self.info.num_classes if self.class_conditional else 0
        num_rows, num_cols = base.grid_layout(config.num_samples, num_classes)
        grids = {}
        for temperature in config.sample_temperatures:
            if num_classes:
                # [columns, rows, H, W, C]: `num_cols` samples of each of the first `num_rows`
                # classes.
                levels = model.sample(
                    num_cols, label=list(range(num_rows)), seed=config.seed, temperature=temperature
                )
                levels = levels.numpy().swapaxes(0, 1).reshape(-1, *self.image_shape)
            else:
                levels = model.sample(
                    num_rows * num_cols, seed=config.seed, temperature=temperature
                ).numpy()
            shown = pixels.to_uint8(levels, config.model.n_bits_x).numpy()
            grids[temperature] = images.make_grid(shown, num_rows)
        return grids
