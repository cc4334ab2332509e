"""The serving module of a Meta PixelCNN ('meta_pixelcnn'): the Attention PixelCNN's signatures.

`tfglow.serving.export.export_saved_model` (the `tfglow-export` command) exports a workdir whose
`config.model.name` is 'meta_pixelcnn' with `MetaPixelCNNServingModule`, in the layout and with
the input checks, limits, seeds and pixel levels of the other few-shot exports
(`tfglow.serving.fewshot`, whose module docstring describes them):

```none
log_prob  images uint8 [B, H, W, C], support uint8 [B, K, H, W, C]
          -> log_prob float32 [B]      exact log P(images_b | support set b), nats/image
             bits_per_dim float32 [B]  -log_prob / (H * W * C * ln 2)
sample    support uint8 [B, K, H, W, C], num int32 [], seed int64 []
          -> images uint8 [num, B, H, W, C]
serving_default  the same as sample
```

Every slot of `support` is used. Each call adapts the model to each support set as training
and the few-shot evaluator do (`inner_steps` gradient steps on the learned inner loss, inside
the SavedModel's graph), so `log_prob` and `sample` equal what `tfglow-fewshot-eval`'s adapter
returns for the same workdir; the metadata records `inner_steps`, `condition_width` and
`condition_grid`.
"""

import tensorflow as tf

from tfglow.serving import checks
from tfglow.serving.fewshot import PixelCNNServingModule
from tfglow.trained import TrainedRun

__all__ = ['MetaPixelCNNServingModule']


class MetaPixelCNNServingModule(PixelCNNServingModule):
    """The exported `tf.Module` of a `tfp_flows.MetaPixelCNN`: `log_prob` and `sample` with a
    `support` input (see the module docstring).

    Args:
      run: a 'meta_pixelcnn' run (`tfglow.trained.restore_run`): its `tfp_flows.MetaPixelCNN`
        holds the weights to export.
      max_batch: the most images one request may make (`num * B`). Default value:
        `tfglow.serving.checks.DEFAULT_MAX_BATCH`.
    """

    def __init__(self, run: TrainedRun, max_batch: int = checks.DEFAULT_MAX_BATCH):
        super().__init__(run, max_batch)
        # The base class gives a support input to the Attention PixelCNN only; these are its
        # support signatures (a MetaPixelCNN is never class-conditional: no label).
        self.takes_support = True
        self.log_prob = tf.function(
            self._log_prob_given, input_signature=[self._images_spec, self._support_spec]
        )
        self.sample = tf.function(
            self._sample_given,
            input_signature=[
                self._support_spec,
                tf.TensorSpec([], tf.int32, name='num'),
                tf.TensorSpec([], tf.int64, name='seed'),
            ],
        )

    def _details(self) -> dict:
        return {
            **super()._details(),
            'inner_steps': self.model.inner_steps,
            'condition_width': self.model.condition_width,
            'condition_grid': self.model.condition_grid,
        }
