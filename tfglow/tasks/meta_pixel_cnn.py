"""Meta PixelCNN (`config.model.name = 'meta_pixelcnn'`): few-shot by a learned inner loop.

```none
nats = -model.log_prob(levels(target), support=levels(support), support_mask=mask)
```

The same episodes, levels, loss, evaluation and samples as the Attention PixelCNN
(`tfglow.tasks.attention_pixel_cnn`): only the model differs. Inside `log_prob` the model adapts
its conditioning vector to each support set by `config.model.inner_steps` gradient steps on its
learned inner loss; the training step's gradient tape records those steps, so the outer gradient
is second-order unless `config.model.first_order`. The likelihood is exact.
"""

from tfglow.models import pixel_cnn
from tfglow.tasks.attention_pixel_cnn import AttentionPixelCNNTask

__all__ = ['MetaPixelCNNTask']


class MetaPixelCNNTask(AttentionPixelCNNTask):
    """Reed et al.'s Meta PixelCNN trained on episodes; no data-dependent init."""

    def build_model(self):
        return pixel_cnn.build_meta_pixel_cnn(
            self.config.model, self.image_shape, seed=self.config.seed
        )
