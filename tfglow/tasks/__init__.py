"""The model families `tfglow-train` trains, chosen by `config.model.name`.

```python
from tfglow import tasks
task = tasks.get_task(config)              # the config's family, e.g. tasks.FewShotGlowTask
model = task.build_model()
loss, metrics = task.loss(model, batch)     # per example; metrics['bits_per_dim'], ...
```

  'glow'                Glow on images (optionally class-conditional), dequantised bits/dim.
  'pixelcnn'            gated PixelCNN on images (optionally class-conditional), exact NLL.
  'attention_pixelcnn'  Attention PixelCNN on episodes: exact NLL of a target given a support set.
  'meta_pixelcnn'       Meta PixelCNN on episodes: the same, after gradient steps on the support.
  'fewshot_glow'        support-conditioned Glow on episodes: dequantised NLL of a target.
"""

import ml_collections

from tfglow import data
from tfglow.tasks.attention_pixel_cnn import AttentionPixelCNNTask
from tfglow.tasks.base import ImageTask, Task
from tfglow.tasks.episodic import EpisodicTask
from tfglow.tasks.fewshot_glow import FewShotGlowTask
from tfglow.tasks.glow import GlowTask
from tfglow.tasks.meta_pixel_cnn import MetaPixelCNNTask
from tfglow.tasks.pixel_cnn import PixelCNNTask

__all__ = [
    'TASKS',
    'AttentionPixelCNNTask',
    'EpisodicTask',
    'FewShotGlowTask',
    'GlowTask',
    'ImageTask',
    'MetaPixelCNNTask',
    'PixelCNNTask',
    'Task',
    'get_task',
]

TASKS: dict[str, type[Task]] = {
    'glow': GlowTask,
    'pixelcnn': PixelCNNTask,
    'attention_pixelcnn': AttentionPixelCNNTask,
    'meta_pixelcnn': MetaPixelCNNTask,
    'fewshot_glow': FewShotGlowTask,
}


def get_task(config: ml_collections.ConfigDict, info: data.DataInfo | None = None) -> Task:
    """The task of `config.model.name`, for data described by `info` (default: read it).

    Raises:
      ValueError: for an unknown model name.
    """
    name = config.model.name
    if name not in TASKS:
        raise ValueError(f'Unknown config.model.name {name!r}; expected one of {", ".join(TASKS)}.')
    return TASKS[name](config, info or data.get_info(config.data))
