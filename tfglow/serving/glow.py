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
                 -> latents float32 [B, D], latents_<l> float32 [B, h_l, w_l, c_l] per level l,
                    exact bool [B]
decode           latents float32 [B, D] (, label [B])  -> images uint8 [B, H, W, C]
interpolate      images_a, images_b uint8 [B, H, W, C], num_steps int32 [] (, label [B])
                 -> images uint8 [B, num_steps, H, W, C]    decode((1 - t) z_a + t z_b), t in [0, 1]
                    exact bool [B]
manipulate       images uint8 [B, H, W, C], attribute int32 [B], alpha float32 [B] (, label [B])
                 -> images uint8 [B, H, W, C]               decode(z + alpha * direction[attribute])
                    exact bool [B]
```

`D = H * W * C`; the flat latent concatenates the levels' latents, finest first (see
`tfglow.trained`). Encoding uses the centre of each pixel's dequantisation bin, so decoding an
encoding gives back the image's levels (`tfglow.pixels`: the image itself for an 8-bit model) up
to the flow's float error, which on a trained model is below a bin for its data.

Exactness is checked, not assumed: `exact[b]` is True when decoding image `b`'s latents gives
back its levels pixel for pixel (for `interpolate`, both end points; for `manipulate`, the image
before the edit, so that the edit starts from the image itself). It can be False off the data
(uniform noise through a long-trained model loses a few pixels to float error) or for a flow
that overflows on an image. Costs one more pass through the flow in `encode`.

Limits (`tfglow.serving.checks`): `temperature` in [0, 2]; latents given to `decode`, and those
`alpha` makes, within [-100, 100] per value; at most `max_batch` images made per request (`num`,
`B * num_steps`; `tfglow-export --max_batch`, default 1024, in the metadata). Every decoded
image and bits/dim is checked to be finite before it is returned: a flow that overflows fails,
naming the input, instead of answering black pixels.

bits/dim and its noise: bits/dim needs uniform dequantisation noise. `bits_per_dim` draws it as
`tfglow.evaluate.BitsPerDimEvaluator` does (`tfglow.pixels.uniform_noise`), seeded by the run's
`config.seed` and each image's position in the request, so a request holding the first `n`
images of a split returns the evaluator's per-image values on those `n` images (their mean is the
number it reports), and equal requests get equal answers. An image's value depends slightly on
its position, through its noise draw (a standard deviation of 0.002 bits/dim over positions,
measured on a Fashion-MNIST model).

Validation (`tfglow.serving.checks`): inputs are checked inside the graph, so TF Serving clients
get them too: a wrong shape fails in `EnsureShape` (naming the input and both shapes), bad values
(empty batch, label or attribute out of range, mismatched batch sizes, values past the limits
above, num_steps < 2) in assertions whose message names the input; a tensor of the wrong dtype
is refused by the runtime before the graph runs (naming the input's position). All are
InvalidArgument errors. Python values (numpy arrays, lists) are cast to the signature's dtype by
TensorFlow before the graph sees them; `tfglow.serving.client.signature_inputs` refuses the
casts that would change a value.

Metadata: the model family, attribute names and everything a client needs (shapes, classes,
signatures) are in `<version>/assets.extra/tfglow_metadata.json`; the names and directions are also
the SavedModel's `attribute_names` and `attribute_directions` variables.
"""

import numpy as np
import tensorflow as tf
from absl import logging

from tfglow import pixels, validation
from tfglow.attributes import AttributeDirections, load_directions
from tfglow.serving import checks as serving_checks
from tfglow.serving import versions
from tfglow.serving.checks import (
    MAX_LATENT,
    MAX_TEMPERATURE,
    after,
    checked_uint8,
    count_checks,
    exact_round_trip,
    finite_checks,
    flow_decode,
    image_checks,
    label_checks,
    latent_bound_checks,
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
      max_batch: the most images one request may make (`num`, `B * num_steps`). Default value:
        `tfglow.serving.checks.DEFAULT_MAX_BATCH`.
    """

    def __init__(
        self,
        trained: TrainedGlow,
        attributes: AttributeDirections | None = None,
        max_batch: int = serving_checks.DEFAULT_MAX_BATCH,
    ):
        super().__init__(name='glow_serving')
        self._max_batch = validation.integer(max_batch, 'max_batch', 1)
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
        return versions.trace_signatures(zip(SIGNATURES, functions, strict=True))

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
            'max_batch': self._max_batch,
            'max_temperature': MAX_TEMPERATURE,
            'max_latent': MAX_LATENT,
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
        num, checks = count_checks(num, 'images to sample', self._max_batch)
        temperature, temperature_checks = non_negative_checks(
            temperature, 'temperature', MAX_TEMPERATURE
        )
        checks += temperature_checks
        seed = tf.ensure_shape(seed, [], name='seed')
        if label is not None:
            label, label_checks = self._label_checks(label, num, 'sampled image')
            checks += label_checks
            (label,) = after(checks, label)
        num, temperature = after(checks, num, temperature)
        flow = serving_checks.finite_flow(
            self._trained, 'temperature: the samples overflow (not finite); use a lower one'
        )
        return {'images': flow.sample(num, temperature, seed, label)}

    def _bits_per_dim(self, images, label=None):
        images, label = self._checked_images(images, label)
        # The evaluator's noise: image i of the request is example i of its dataset.
        noise = pixels.uniform_noise(
            self._trained.noise_seed, tf.range(tf.shape(images)[0]), self._trained.image_shape
        )
        bits = self._trained.bits_per_dim(images, noise, label)
        message = 'images: their bits/dim is not finite (the flow overflows on them)'
        (bits,) = after(finite_checks(bits, message), bits)
        return {'bits_per_dim': bits}

    def _encode(self, images, label=None):
        images, label = self._checked_images(images, label)
        return serving_checks.encode_outputs(self._trained, images, label)

    def _decode(self, latents, label=None):
        latents, checks = latent_checks(latents, self._trained.latent_size)
        if label is not None:
            label, label_checks = self._label_checks(label, tf.shape(latents)[0], 'latent row')
            checks += label_checks
            (label,) = after(checks, label)
        (latents,) = after(checks, latents)
        x = flow_decode(self._trained, latents, label)
        message = 'latents: the flow overflows on them (its output is not finite)'
        return {'images': checked_uint8(x, self._trained.n_bits, message)}

    def _interpolate(self, images_a, images_b, num_steps, label=None):
        images_a, label = self._checked_images(images_a, label, 'images_a')
        images_b, _ = self._checked_images(images_b, None, 'images_b')
        num_steps = tf.ensure_shape(num_steps, [], name='num_steps')
        batch = tf.shape(images_a)[0]
        checks = [
            tf.debugging.assert_equal(
                batch,
                tf.shape(images_b)[0],
                message='images_a and images_b must hold the same number of images',
            ),
            tf.debugging.assert_greater_equal(
                num_steps, 2, message='num_steps must be >= 2 (the path includes both ends)'
            ),
            *serving_checks.product_checks(batch, num_steps, 'B * num_steps', self._max_batch),
        ]
        images_a, images_b, num_steps = after(checks, images_a, images_b, num_steps)
        both_labels = None if label is None else tf.concat([label, label], axis=0)
        latents = self._checked_encode(tf.concat([images_a, images_b], axis=0), both_labels)
        start, end = latents[:batch, None], latents[batch:, None]
        # t = i / (n - 1) is exactly 0 and 1 at the ends, so the ends decode to the inputs.
        t = tf.cast(tf.range(num_steps), tf.float32) / tf.cast(num_steps - 1, tf.float32)
        t = t[None, :, None]
        path = tf.reshape((1.0 - t) * start + t * end, [-1, self._trained.latent_size])
        path_labels = None if label is None else tf.repeat(label, num_steps)
        shape = tf.concat([[batch, num_steps], self._trained.image_shape], axis=0)
        x = tf.reshape(flow_decode(self._trained, path, path_labels), shape)
        message = 'images_a, images_b: the flow overflows between them (not finite)'
        images = checked_uint8(x, self._trained.n_bits, message)
        n_bits = self._trained.n_bits
        exact = exact_round_trip(images_a, x[:, 0], n_bits) & exact_round_trip(
            images_b, x[:, -1], n_bits
        )
        return {'images': images, 'exact': exact}

    def _checked_encode(self, images, label):
        """Flat latents of checked images, failing (naming the images) when not finite."""
        latents = self._trained.encode(images, label)
        message = 'images: the flow overflows on these images (their latents are not finite)'
        (latents,) = after(finite_checks(latents, message), latents)
        return latents

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
        latents = self._checked_encode(images, label)
        edited = latents + alpha[:, None] * directions
        message = (
            f'alpha moves the latents out of [-{MAX_LATENT:g}, {MAX_LATENT:g}], where the flow '
            'decodes noise or overflows: use a smaller |alpha|'
        )
        (edited,) = after(latent_bound_checks(edited, message), edited)
        # The unedited latents too, in one pass: whether they give back the images.
        both_labels = None if label is None else tf.concat([label, label], axis=0)
        x = flow_decode(self._trained, tf.concat([latents, edited], axis=0), both_labels)
        message = 'alpha: the flow overflows on the edited latents (not finite)'
        return {
            'images': checked_uint8(x[batch:], self._trained.n_bits, message),
            'exact': exact_round_trip(images, x[:batch], self._trained.n_bits),
        }


def glow_serving_module(
    trained: TrainedGlow,
    attributes: str | AttributeDirections | None = None,
    max_batch: int = serving_checks.DEFAULT_MAX_BATCH,
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
    return GlowServingModule(trained, attributes, max_batch)
