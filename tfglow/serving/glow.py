"""The serving module of a Glow run: sampling, likelihoods, encoding, decoding and editing.

`tfglow.serving.export.export_saved_model` exports a workdir whose `config.model.name` is 'glow'
with these signatures. Every batch dimension `B` is dynamic; `label` (int32, one class per image)
is an input only of class-conditional models, whose every signature needs it:

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
`decode(encode(images)) == images` exactly (for images in the model's levels, `tfglow.pixels`:
every image of an 8-bit model) and `interpolate`'s end points are the input images.

bits/dim and its noise: bits/dim needs uniform dequantisation noise. `bits_per_dim` draws it as
`tfglow.evaluate.BitsPerDimEvaluator` does (`tfglow.pixels.uniform_noise`), seeded by the run's
`config.seed` and each image's position in the request, so a request holding the first `n`
images of a split returns the evaluator's per-image values on those `n` images (their mean is the
number it reports), and equal requests get equal answers. An image's value depends slightly on
its position, through its noise draw (a standard deviation of 0.002 bits/dim over positions,
measured on a Fashion-MNIST model).

Validation (`tfglow.serving.checks`): inputs are checked inside the graph, so TF Serving clients
get them too: a wrong shape fails in `EnsureShape` (naming the input and both shapes), bad values
(empty batch, label or attribute out of range, mismatched batch sizes, negative or non-finite
temperature, num_steps < 2) in assertions whose message names the input; a wrong dtype is
refused by the runtime before the graph runs. All are InvalidArgument errors.

Metadata: the model family, attribute names and everything a client needs (shapes, classes,
signatures) are in `<version>/assets.extra/tfglow_metadata.json`; the names and directions are also
the SavedModel's `attribute_names` and `attribute_directions` variables.
"""

import numpy as np
import tensorflow as tf
from absl import logging

from tfglow import pixels
from tfglow.attributes import AttributeDirections, load_directions
from tfglow.serving import versions
from tfglow.serving.checks import (
    after,
    count_checks,
    image_checks,
    label_checks,
    latent_checks,
    non_negative_checks,
)
from tfglow.trained import TrainedGlow

__all__ = ['SIGNATURES', 'GlowServingModule', 'glow_serving_module']

SIGNATURES = (
    'serving_default',
    'bits_per_dim',
    'encode',
    'decode',
    'interpolate',
    'manipulate',
)


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
                name: versions.describe_signature(function)
                for name, function in self.signatures().items()
            },
        }

    # The signature functions. Arguments are validated first (see the module docstring).

    def _label_checks(self, label: tf.Tensor, count: tf.Tensor, what: str):
        return label_checks(label, count, what, self._trained.num_classes)

    def _checked_images(self, images, label, name='images'):
        images, checks = image_checks(images, name, self._trained.image_shape)
        if label is not None:
            label, label_checks = self._label_checks(label, tf.shape(images)[0], 'image')
            checks += label_checks
            (label,) = after(checks, label)
        (images,) = after(checks, images)
        return images, label

    def _sample(self, num, temperature, seed, label=None):
        num, checks = count_checks(num, 'images to sample')
        temperature, temperature_checks = non_negative_checks(temperature, 'temperature')
        checks += temperature_checks
        seed = tf.ensure_shape(seed, [], name='seed')
        if label is not None:
            label, label_checks = self._label_checks(label, num, 'sampled image')
            checks += label_checks
            (label,) = after(checks, label)
        num, temperature = after(checks, num, temperature)
        return {'images': self._trained.sample(num, temperature, seed, label)}

    def _bits_per_dim(self, images, label=None):
        images, label = self._checked_images(images, label)
        # The evaluator's noise: image i of the request is example i of its dataset.
        noise = pixels.uniform_noise(
            self._trained.noise_seed, tf.range(tf.shape(images)[0]), self._trained.image_shape
        )
        return {'bits_per_dim': self._trained.bits_per_dim(images, noise, label)}

    def _encode(self, images, label=None):
        images, label = self._checked_images(images, label)
        return self._trained.encode_outputs(images, label)

    def _decode(self, latents, label=None):
        latents, checks = latent_checks(latents, self._trained.latent_size)
        if label is not None:
            label, label_checks = self._label_checks(label, tf.shape(latents)[0], 'latent row')
            checks += label_checks
            (label,) = after(checks, label)
        (latents,) = after(checks, latents)
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
        images_a, images_b, num_steps = after(checks, images_a, images_b, num_steps)
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
        attribute, alpha = after(checks, attribute, alpha)
        directions = tf.gather(self.attribute_directions, attribute)
        latents = self._trained.encode(images, label) + alpha[:, None] * directions
        return {'images': self._trained.decode(latents, label)}


def glow_serving_module(
    trained: TrainedGlow, attributes: str | AttributeDirections | None = None
) -> GlowServingModule:
    """The serving module of a Glow run, with attribute directions (a file or loaded) or none."""
    if isinstance(attributes, str):
        attributes = load_directions(attributes)
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
