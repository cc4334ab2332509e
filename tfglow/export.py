"""SavedModel export of a trained model for TF Serving: sampling, likelihoods, encoding, editing.

`export_saved_model(workdir, export_dir)` writes the EMA weights of a `tfglow-train` checkpoint to
`export_dir/<version>/`, the layout TF Serving watches (the next free integer version by default).
The run's `config.model.name` decides the signatures. The support-conditioned families,
'fewshot_glow', 'attention_pixelcnn' and 'pixelcnn', get `fewshot_log_prob` and `fewshot_sample`,
or `log_prob` and `sample` (see `tfglow.fewshot_export`). A 'glow' run gets the signatures below.
Every batch dimension `B` is dynamic; `label` (int32, one class per image) is an input only of
class-conditional models, whose every signature needs it:

```none
serving_default  num int32 [], temperature float32 [], seed int64 [] (, label [num])
                 -> images uint8 [num, H, W, C]             samples, a pure function of `seed`
bits_per_dim     images uint8 [B, H, W, C] (, label [B])
                 -> bits_per_dim float32 [B]                what tfglow's evaluator reports
encode           images uint8 [B, H, W, C] (, label [B])
                 -> latents float32 [B, D], latents_<l> float32 [B, h_l, w_l, c_l] per level l
decode           latents float32 [B, D] (, label [B])  -> images uint8 [B, H, W, C]
interpolate      images_a, images_b uint8 [B, H, W, C], num_steps int32 [] (, label [B])
                 -> images uint8 [B, num_steps, H, W, C]    decode((1 - t) z_a + t z_b), t in [0, 1]
manipulate       images uint8 [B, H, W, C], attribute int32 [B], alpha float32 [B] (, label [B])
                 -> images uint8 [B, H, W, C]               decode(z + alpha * direction[attribute])
```

`D = H * W * C`; the flat latent concatenates the levels' latents, finest first (see
`tfglow.trained`). Encoding uses the centre of each pixel's dequantisation bin, so
`decode(encode(images)) == images` exactly and `interpolate`'s end points are the input images.

bits/dim and its noise: bits/dim needs uniform dequantisation noise. `bits_per_dim` draws it as
`tfglow.evaluate.BitsPerDimEvaluator` does, seeded by the run's `config.seed` and each image's
position in the request, so a request holding the first `n` images of a split returns the
evaluator's per-image values on those `n` images (their mean is the number it reports), and equal
requests get equal answers. An image's value depends slightly on its position, through its noise
draw (a standard deviation of 0.002 bits/dim over positions, measured on a Fashion-MNIST model).

Validation: inputs are checked inside the graph, so TF Serving clients get them too: a wrong shape
fails in `EnsureShape` (naming the input and both shapes), bad values (empty batch, label or
attribute out of range, mismatched batch sizes, negative or non-finite temperature, num_steps < 2)
in assertions whose message names the input; a wrong dtype is refused by the runtime before the
graph runs. All are InvalidArgument errors.

Metadata: the model family, attribute names and everything a client needs (shapes, classes,
signatures) are in `<version>/assets.extra/tfglow_metadata.json`; the names and directions are also
the SavedModel's `attribute_names` and `attribute_directions` variables.
"""

import json
import os
import uuid
from collections.abc import Sequence

import numpy as np
import tensorflow as tf
from absl import logging

from tfglow import config_lib, evaluate
from tfglow.attributes import AttributeDirections, load_directions
from tfglow.trained import TrainedGlow, load_trained_glow

__all__ = [
    'METADATA_PATH',
    'SIGNATURES',
    'GlowServingModule',
    'export_saved_model',
    'next_version',
]

SIGNATURES = (
    'serving_default',
    'bits_per_dim',
    'encode',
    'decode',
    'interpolate',
    'manipulate',
)
METADATA_PATH = os.path.join('assets.extra', 'tfglow_metadata.json')


def _after(checks: Sequence[tf.Operation], *tensors: tf.Tensor) -> list[tf.Tensor]:
    """`tensors`, usable only once every check passed (so no op sees an unchecked input)."""
    with tf.control_dependencies(checks):
        return [tf.identity(t) for t in tensors]


def _image_checks(images: tf.Tensor, name: str, image_shape: Sequence[int]):
    """Shape `[B >= 1, H, W, C]`; returns `(images, checks)`."""
    images = tf.ensure_shape(images, [None, *image_shape], name=name)
    shape = ', '.join(map(str, image_shape))
    check = tf.debugging.assert_positive(
        tf.shape(images)[0], message=f'{name} must hold at least one uint8 [{shape}] image'
    )
    return images, [check]


def _count_checks(num: tf.Tensor, what: str):
    """A scalar `num` >= 1 (how many `what` a call makes), and the check on it."""
    num = tf.ensure_shape(num, [], name='num')
    return num, [tf.debugging.assert_positive(num, message=f'num ({what}) must be >= 1')]


def _non_negative_checks(value: tf.Tensor, name: str):
    """A scalar float input that must be finite and >= 0 (temperature, strength), and its checks."""
    value = tf.ensure_shape(value, [], name=name)
    message = f'{name} must be a finite number >= 0'
    return value, [
        tf.debugging.assert_non_negative(value, message=message),
        tf.debugging.assert_less(value, np.float32(np.inf), message=message),
    ]


def _label_checks(label: tf.Tensor, count: tf.Tensor, what: str, num_classes: int):
    """Shape `[count]`, values in `[0, num_classes)`; returns `(label, checks)`."""
    label = tf.ensure_shape(label, [None], name='label')
    message = f'label must hold one class index in [0, {num_classes}) per {what}'
    checks = [
        tf.debugging.assert_equal(tf.size(label), count, message=message),
        tf.debugging.assert_non_negative(label, message=message),
        tf.debugging.assert_less(label, num_classes, message=message),
    ]
    return label, checks


def _latent_checks(latents: tf.Tensor, latent_size: int):
    """Shape `[B >= 1, latent_size]`, finite values; returns `(latents, checks)`."""
    latents = tf.ensure_shape(latents, [None, latent_size], name='latents')
    checks = [
        tf.debugging.assert_positive(
            tf.shape(latents)[0], message='latents must hold at least one row'
        ),
        tf.debugging.assert_less(
            tf.reduce_max(tf.abs(latents)),
            np.float32(np.inf),
            message='latents must be finite (no NaN or Inf)',
        ),
    ]
    return latents, checks


class GlowServingModule(tf.Module):
    """The exported `tf.Module`: a trained Glow, attribute directions and the serving functions.

    Each signature is a `tf.function` attribute with an explicit input signature (see the module
    docstring), callable in-process too: `module.encode(images)['latents']`.

    Args:
      trained: the model and its pixel maps (`tfglow.trained.load_trained_glow`).
      attributes: directions for `manipulate`, computed for this model's latent size; None gives
        an export whose `manipulate` refuses every attribute index.
    """

    def __init__(self, trained: TrainedGlow, attributes: AttributeDirections | None = None):
        super().__init__(name='glow_serving')
        size = trained.latent_size
        if attributes is not None and attributes.latent_size != size:
            raise ValueError(
                f'the attribute directions are {attributes.latent_size}-dimensional but this '
                f'model has {size} latent dimensions: compute them with tfglow-attributes on '
                'this model'
            )
        self._trained = trained
        self.model = trained.model
        self._attributes = attributes
        names = list(attributes.names) if attributes else []
        directions = attributes.directions if attributes else np.zeros([0, size], np.float32)
        self.attribute_names = tf.Variable(
            tf.constant(names, dtype=tf.string, shape=[len(names)]),
            trainable=False,
            name='attribute_names',
        )
        self.attribute_directions = tf.Variable(
            directions, dtype=tf.float32, trainable=False, name='attribute_directions'
        )

        images = tf.TensorSpec([None, *trained.image_shape], tf.uint8, name='images')
        label = [tf.TensorSpec([None], tf.int32, name='label')] if trained.num_classes else []
        scalar = lambda dtype, name: tf.TensorSpec([], dtype, name=name)
        self.sample = tf.function(
            self._sample,
            input_signature=[
                scalar(tf.int32, 'num'),
                scalar(tf.float32, 'temperature'),
                scalar(tf.int64, 'seed'),
                *label,
            ],
        )
        self.bits_per_dim = tf.function(self._bits_per_dim, input_signature=[images, *label])
        self.encode = tf.function(self._encode, input_signature=[images, *label])
        self.decode = tf.function(
            self._decode,
            input_signature=[tf.TensorSpec([None, size], tf.float32, name='latents'), *label],
        )
        self.interpolate = tf.function(
            self._interpolate,
            input_signature=[
                tf.TensorSpec(images.shape, tf.uint8, name='images_a'),
                tf.TensorSpec(images.shape, tf.uint8, name='images_b'),
                scalar(tf.int32, 'num_steps'),
                *label,
            ],
        )
        self.manipulate = tf.function(
            self._manipulate,
            input_signature=[
                images,
                tf.TensorSpec([None], tf.int32, name='attribute'),
                tf.TensorSpec([None], tf.float32, name='alpha'),
                *label,
            ],
        )

    def signatures(self) -> dict[str, tf.types.experimental.ConcreteFunction]:
        """The SavedModel signatures, by name (`SIGNATURES`)."""
        functions = (
            self.sample,
            self.bits_per_dim,
            self.encode,
            self.decode,
            self.interpolate,
            self.manipulate,
        )
        return {
            name: function.get_concrete_function()
            for name, function in zip(SIGNATURES, functions, strict=True)
        }

    def metadata(self) -> dict:
        """What a client needs to call the export, as JSON-serialisable values."""
        trained, attributes = self._trained, self._attributes
        return {
            'format': 'tfglow.export',
            'model_family': 'glow',
            'checkpoint': trained.checkpoint,
            'step': trained.step,
            'image_shape': list(trained.image_shape),
            'n_bits': trained.n_bits,
            'latent_size': trained.latent_size,
            'latent_shapes': [list(shape) for shape in trained.latent_shapes],
            'num_classes': trained.num_classes,
            'class_names': trained.class_names if trained.num_classes else None,
            'bits_per_dim_noise_seed': trained.noise_seed,
            'attributes': list(attributes.names) if attributes else [],
            'attribute_scale': attributes.scale if attributes else None,
            'attribute_details': attributes.metadata if attributes else None,
            'signatures': {
                name: _describe(function) for name, function in self.signatures().items()
            },
        }

    # The signature functions. Arguments are validated first (see the module docstring).

    def _label_checks(self, label: tf.Tensor, count: tf.Tensor, what: str):
        return _label_checks(label, count, what, self._trained.num_classes)

    def _checked_images(self, images, label, name='images'):
        images, checks = _image_checks(images, name, self._trained.image_shape)
        if label is not None:
            label, label_checks = self._label_checks(label, tf.shape(images)[0], 'image')
            checks += label_checks
            (label,) = _after(checks, label)
        (images,) = _after(checks, images)
        return images, label

    def _sample(self, num, temperature, seed, label=None):
        num, checks = _count_checks(num, 'images to sample')
        temperature, temperature_checks = _non_negative_checks(temperature, 'temperature')
        checks += temperature_checks
        seed = tf.ensure_shape(seed, [], name='seed')
        if label is not None:
            label, label_checks = self._label_checks(label, num, 'sampled image')
            checks += label_checks
            (label,) = _after(checks, label)
        num, temperature = _after(checks, num, temperature)
        return {'images': self._trained.sample(num, temperature, seed, label)}

    def _bits_per_dim(self, images, label=None):
        images, label = self._checked_images(images, label)
        # The evaluator's noise: image i of the request is example i of its dataset.
        base = tf.constant([self._trained.noise_seed, evaluate._EVAL_NOISE_STREAM], tf.int64)
        shape = self._trained.image_shape
        noise = tf.map_fn(
            lambda i: tf.random.stateless_uniform(
                shape, seed=tf.random.experimental.stateless_fold_in(base, i)
            ),
            tf.range(tf.shape(images, out_type=tf.int64)[0]),
            fn_output_signature=tf.float32,
        )
        return {'bits_per_dim': self._trained.bits_per_dim(images, noise, label)}

    def _encode(self, images, label=None):
        images, label = self._checked_images(images, label)
        levels = self._trained.encode_levels(images, label)
        outputs = {'latents': self._trained.flatten(levels)}
        outputs.update({f'latents_{level}': eps for level, eps in enumerate(levels)})
        return outputs

    def _decode(self, latents, label=None):
        latents, checks = _latent_checks(latents, self._trained.latent_size)
        if label is not None:
            label, label_checks = self._label_checks(label, tf.shape(latents)[0], 'latent row')
            checks += label_checks
            (label,) = _after(checks, label)
        (latents,) = _after(checks, latents)
        return {'images': self._trained.decode(latents, label)}

    def _interpolate(self, images_a, images_b, num_steps, label=None):
        images_a, label = self._checked_images(images_a, label, 'images_a')
        images_b, _ = self._checked_images(images_b, None, 'images_b')
        num_steps = tf.ensure_shape(num_steps, [], name='num_steps')
        checks = [
            tf.debugging.assert_equal(
                tf.shape(images_a)[0],
                tf.shape(images_b)[0],
                message='images_a and images_b must hold the same number of images',
            ),
            tf.debugging.assert_greater_equal(
                num_steps, 2, message='num_steps must be >= 2 (the path includes both ends)'
            ),
        ]
        images_a, images_b, num_steps = _after(checks, images_a, images_b, num_steps)
        batch = tf.shape(images_a)[0]
        both_labels = None if label is None else tf.concat([label, label], axis=0)
        latents = self._trained.encode(tf.concat([images_a, images_b], axis=0), both_labels)
        start, end = latents[:batch, None], latents[batch:, None]
        # t = i / (n - 1) is exactly 0 and 1 at the ends, so the ends decode to the inputs.
        t = tf.cast(tf.range(num_steps), tf.float32) / tf.cast(num_steps - 1, tf.float32)
        t = t[None, :, None]
        path = tf.reshape((1.0 - t) * start + t * end, [-1, self._trained.latent_size])
        path_labels = None if label is None else tf.repeat(label, num_steps)
        images = self._trained.decode(path, path_labels)
        shape = tf.concat([[batch, num_steps], self._trained.image_shape], axis=0)
        return {'images': tf.reshape(images, shape)}

    def _manipulate(self, images, attribute, alpha, label=None):
        images, label = self._checked_images(images, label)
        attribute = tf.ensure_shape(attribute, [None], name='attribute')
        alpha = tf.ensure_shape(alpha, [None], name='alpha')
        batch = tf.shape(images)[0]
        names = self._attributes.names if self._attributes else ()
        if names:
            known = ', '.join(f'{i} {name}' for i, name in enumerate(names))
            unknown = f'attribute must index one of the attributes of this export ({known})'
        else:
            unknown = (
                'this export has no attribute directions: export it with '
                'tfglow-export --attributes=<file from tfglow-attributes>'
            )
        checks = [
            tf.debugging.assert_equal(
                tf.size(attribute), batch, message='attribute must hold one index per image'
            ),
            tf.debugging.assert_equal(
                tf.size(alpha), batch, message='alpha must hold one strength per image'
            ),
            tf.debugging.assert_non_negative(attribute, message=unknown),
            tf.debugging.assert_less(attribute, len(names), message=unknown),
            tf.debugging.assert_less(
                tf.reduce_max(tf.abs(alpha)), np.float32(np.inf), message='alpha must be finite'
            ),
        ]
        attribute, alpha = _after(checks, attribute, alpha)
        directions = tf.gather(self.attribute_directions, attribute)
        latents = self._trained.encode(images, label) + alpha[:, None] * directions
        return {'images': self._trained.decode(latents, label)}


def _describe(function: tf.types.experimental.ConcreteFunction) -> dict:
    """`{'inputs': {name: {dtype, shape}}, 'outputs': {...}}` of a signature (-1: any size)."""

    def spec(value) -> dict:
        return {
            'dtype': value.dtype.name,
            'shape': [-1 if d is None else d for d in value.shape.as_list()],
        }

    args, kwargs = function.structured_input_signature
    # Unconditional models leave `label` at its default, None.
    specs = [s for s in (*args, *kwargs.values()) if isinstance(s, tf.TensorSpec)]
    inputs = {s.name: spec(s) for s in specs}
    outputs = {name: spec(t) for name, t in function.structured_outputs.items()}
    return {'inputs': inputs, 'outputs': outputs}


def next_version(export_dir: str) -> int:
    """1 + the largest integer-named version directory in `export_dir` (1 when there is none)."""
    if not tf.io.gfile.isdir(export_dir):
        return 1
    versions = [
        int(name.rstrip('/'))
        for name in tf.io.gfile.listdir(export_dir)
        if name.rstrip('/').isdigit()
    ]
    return max(versions, default=0) + 1


def export_saved_model(
    workdir: str,
    export_dir: str,
    checkpoint: str | int | None = None,
    *,
    attributes: str | AttributeDirections | None = None,
    version: int | None = None,
    num_noise_samples: int = 8,
) -> str:
    """Exports a training workdir's EMA model as `export_dir/<version>/` for TF Serving.

    The run's `config.model.name` decides the signatures: 'glow' gets those of the module
    docstring; 'fewshot_glow', 'attention_pixelcnn' and 'pixelcnn' those of
    `tfglow.fewshot_export`. The SavedModel is written to a hidden temporary directory and renamed
    into place, so a server watching `export_dir` never loads a half-written version.

    Args:
      workdir: a `tfglow-train` workdir.
      export_dir: the model's base directory (TF Serving's `--model_base_path`).
      checkpoint: which checkpoint (see `tfglow.trained.resolve_checkpoint`); default the latest.
      attributes: attribute directions for `manipulate` (Glow only): a file from
        `tfglow-attributes` or an `AttributeDirections`; None for none.
      version: the version number; default `next_version(export_dir)`.
      num_noise_samples: dequantisation draws of a few-shot Glow's `fewshot_log_prob` (other
        families ignore it). Default value: 8.

    Returns:
      The version directory written.

    Raises:
      FileNotFoundError: without a config, checkpoint or attributes file.
      FileExistsError: when `version` already exists.
      ValueError: for an unusable checkpoint, an unknown model family, attributes for a model
        other than a Glow, directions of another latent size, or a version < 1.
    """
    _check_version(version)
    family = config_lib.read_config(workdir).model.name
    if family == 'glow':
        module = _glow_module(workdir, checkpoint, attributes)
    else:
        if attributes is not None:
            raise ValueError(
                f'attribute directions apply to Glow exports only; {workdir} holds a {family!r} '
                'model'
            )
        # Imported here: tfglow.fewshot_export builds on this module's helpers.
        from tfglow import fewshot_export

        module = fewshot_export.load_serving_module(
            workdir, checkpoint, num_noise_samples=num_noise_samples
        )
    target = _write_version(module, export_dir, version)
    metadata = module.metadata()
    logging.info(
        'Exported %s (%s, step %d) to %s.',
        metadata['checkpoint'],
        metadata['model_family'],
        metadata['step'],
        target,
    )
    return target


def _glow_module(
    workdir: str, checkpoint: str | int | None, attributes: str | AttributeDirections | None
) -> GlowServingModule:
    if isinstance(attributes, str):
        attributes = load_directions(attributes)
    trained = load_trained_glow(workdir, checkpoint)
    if attributes is not None and attributes.metadata.get('checkpoint') not in (
        None,
        trained.checkpoint,
    ):
        logging.warning(
            'The attribute directions were computed on %s but the export uses %s.',
            attributes.metadata['checkpoint'],
            trained.checkpoint,
        )
    return GlowServingModule(trained, attributes)


def _check_version(version: int | None) -> None:
    if version is not None and (
        isinstance(version, bool) or not isinstance(version, int) or version < 1
    ):
        raise ValueError(f'version must be an integer >= 1; got {version!r}')


def _write_version(module: tf.Module, export_dir: str, version: int | None) -> str:
    """Saves `module` (with `signatures()` and `metadata()`) as `export_dir/<version>/`.

    Written to a hidden temporary directory and renamed into place, so a server watching
    `export_dir` never loads a half-written version. Returns the version directory. Callers
    check `version` (`_check_version`) before the costly work of building `module`.
    """
    if version is None:
        version = next_version(export_dir)
    target = os.path.join(export_dir, str(version))
    if tf.io.gfile.exists(target):
        raise FileExistsError(f'{target} already exists; pick another version or leave it unset')
    metadata = module.metadata()
    # TF Serving only loads directories named by integers, so it ignores this one.
    staging = os.path.join(export_dir, f'.tmp-{version}-{uuid.uuid4().hex}')
    try:
        tf.saved_model.save(module, staging, signatures=module.signatures())
        metadata_path = os.path.join(staging, METADATA_PATH)
        tf.io.gfile.makedirs(os.path.dirname(metadata_path))
        with tf.io.gfile.GFile(metadata_path, 'w') as f:
            json.dump(metadata, f, indent=2)
        tf.io.gfile.rename(staging, target)
    finally:
        if tf.io.gfile.exists(staging):
            tf.io.gfile.rmtree(staging)
    return target
