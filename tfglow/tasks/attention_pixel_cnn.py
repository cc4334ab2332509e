"""Attention PixelCNN (`config.model.name = 'attention_pixelcnn'`): few-shot, exact likelihoods.

```none
nats = -model.log_prob(levels(target), support=levels(support), support_mask=mask)
```

Levels are the top `n_bits` bits of each pixel (`{0, 1}` for binary data with 'bernoulli'
output). The likelihood is exact: no dequantisation noise, no bound.
"""

from tfglow import pixels
from tfglow.models import pixel_cnn
from tfglow.tasks import episodic

__all__ = ['AttentionPixelCNNTask']


class AttentionPixelCNNTask(episodic.EpisodicTask):
    """Reed et al.'s Attention PixelCNN trained on episodes; no data-dependent init."""

    def build_model(self):
        return pixel_cnn.build_attention_pixel_cnn(
            self.config.model, self.image_shape, seed=self.config.seed
        )

    def target_nats(self, model, batch):
        n_bits = self.config.model.n_bits_x
        return -model.log_prob(
            pixels.to_levels(batch['target'], n_bits),
            support=pixels.to_levels(batch['support'], n_bits),
            support_mask=batch['support_mask'],
        )

    def sample_levels(self, model, episodes, num, temperature):
        n_bits = self.config.model.n_bits_x
        samples = model.sample(
            num,
            support=pixels.to_levels(episodes['support'], n_bits),
            support_mask=episodes['support_mask'],
            seed=self.config.seed,
            temperature=temperature,
        )
        return samples.numpy().swapaxes(0, 1)
