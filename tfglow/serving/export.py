"""`export_saved_model`: a training workdir's EMA model as a SavedModel version for TF Serving.

The run's config is read once and its checkpoint resolved once (`tfglow.trained.restore_run`);
`config.model.name` then picks the serving module: 'glow' gets `tfglow.serving.glow`'s
signatures, 'fewshot_glow', 'attention_pixelcnn' and 'pixelcnn' those of
`tfglow.serving.fewshot`, 'meta_pixelcnn' those of `tfglow.serving.meta_pixel_cnn`. The
version is written as `tfglow.serving.versions` describes.

```python
path = export_saved_model('workdirs/fashion_mnist_glow', 'exports/fashion_mnist_glow')
signatures = tf.saved_model.load(path).signatures    # path: 'exports/fashion_mnist_glow/1'
```
"""

from absl import logging

from tfglow import trained, validation
from tfglow.attributes import AttributeDirections
from tfglow.serving import checks, versions
from tfglow.serving.fewshot import support_serving_module
from tfglow.serving.glow import glow_serving_module
from tfglow.serving.meta_pixel_cnn import MetaPixelCNNServingModule

__all__ = ['export_saved_model']


def export_saved_model(
    workdir: str,
    export_dir: str,
    checkpoint: str | int | None = None,
    *,
    attributes: str | AttributeDirections | None = None,
    version: int | None = None,
    num_noise_samples: int = 8,
    max_batch: int = checks.DEFAULT_MAX_BATCH,
) -> str:
    """Exports a training workdir's EMA model as `export_dir/<version>/` for TF Serving.

    The run's `config.model.name` decides the signatures: 'glow' gets those of
    `tfglow.serving.glow`; 'fewshot_glow', 'attention_pixelcnn' and 'pixelcnn' those of
    `tfglow.serving.fewshot`; 'meta_pixelcnn' those of `tfglow.serving.meta_pixel_cnn`. The
    SavedModel is written to a hidden temporary directory and renamed into place, so a server
    watching `export_dir` never loads a half-written version.

    Args:
      workdir: a `tfglow-train` workdir.
      export_dir: the model's base directory (TF Serving's `--model_base_path`).
      checkpoint: which checkpoint (see `tfglow.trained.resolve_checkpoint`); default the latest.
      attributes: attribute directions for `manipulate` (Glow only): a file from
        `tfglow-attributes` or an `AttributeDirections`; None for none.
      version: the version number; default `versions.next_version(export_dir)`.
      num_noise_samples: dequantisation draws of a few-shot Glow's `fewshot_log_prob` (other
        families ignore it). Default value: 8.
      max_batch: the most images one request may make (`num`, `B * num_steps`, `num * B`),
        stored in the metadata as `max_batch`. Default value:
        `tfglow.serving.checks.DEFAULT_MAX_BATCH` (1024).

    Returns:
      The version directory written.

    Raises:
      FileNotFoundError: without a config, checkpoint or attributes file.
      FileExistsError: when `version` already exists.
      ValueError: for an unusable checkpoint, an unknown model family, attributes for a model
        other than a Glow, directions of another latent size, a version < 1 or a max_batch < 1.
    """
    versions.check_version(version)
    validation.integer(max_batch, 'max_batch', 1)
    run = trained.restore_run(workdir, checkpoint)
    if run.family == 'glow':
        module = glow_serving_module(trained.TrainedGlow(run), attributes, max_batch)
    elif attributes is not None:
        raise ValueError(
            f'attribute directions apply to Glow exports only; {workdir} holds a {run.family!r} '
            'model'
        )
    elif run.family == 'meta_pixelcnn':
        module = MetaPixelCNNServingModule(run, max_batch)
    else:
        module = support_serving_module(
            run, num_noise_samples=num_noise_samples, max_batch=max_batch
        )
    target = versions.write_version(module, export_dir, version)
    logging.info('Exported %s (%s, step %d) to %s.', run.checkpoint, run.family, run.step, target)
    return target
