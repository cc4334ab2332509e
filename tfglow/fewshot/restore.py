"""Models from `tfglow-train` workdirs behind the `SupportModel` protocol, with EMA weights.

The run is restored by `tfglow.trained.restore_run` (the one owner of a trained run); this
module only wraps its model in an adapter.

```python
loaded = load_workdir('workdirs/omniglot_fewshot_glow', 'best', num_noise_samples=8)
loaded.adapter.log_prob_discrete(images, support)    # a `SupportModel`
```
"""

import dataclasses
import os

import ml_collections

from tfglow import trained
from tfglow.fewshot.adapters import SupportModel, as_adapter

__all__ = ['LoadedModel', 'load_workdir']


@dataclasses.dataclass(frozen=True)
class LoadedModel:
    """A model restored from a workdir: its adapter, the run's config, the checkpoint read."""

    adapter: SupportModel
    config: ml_collections.ConfigDict
    checkpoint: str
    step: int


def load_workdir(
    workdir: str,
    checkpoint: str | int | None = None,
    num_noise_samples: int = 8,
    data_path: str = '',
) -> LoadedModel:
    """Rebuilds a `tfglow-train` workdir's model with a checkpoint's EMA weights, as an adapter.

    Args:
      workdir: the training run's directory (`config.json`, `checkpoints/`, `best/`).
      checkpoint: None or 'latest', 'best', a step, or a path (see
        `tfglow.trained.resolve_checkpoint`).
      num_noise_samples: dequantisation draws per image, for flows. Default value: 8.
      data_path: if set, replaces the run's `config.data.path` (data moved since training).

    Raises:
      FileNotFoundError: without the workdir, its config or the checkpoint.
      ValueError: for an unknown model name, a checkpoint that does not match, or a model no
        adapter takes (a class-conditional one).
    """
    run = trained.restore_run(workdir, checkpoint, data_path=data_path)
    adapter = as_adapter(
        run.model,
        n_bits=int(run.config.model.n_bits_x),
        num_noise_samples=num_noise_samples,
        name=os.path.basename(os.path.normpath(workdir)),
    )
    return LoadedModel(adapter, run.config, run.checkpoint, run.step)
