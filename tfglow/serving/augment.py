"""The serving module of latent-space augmentation ('pooled', nearest base classes) for TF Serving.

`export_augment_saved_model(codec, base, export_dir)` writes `export_dir/<version>/` (the next
free integer version by default) holding the flow, the base classes' statistics as variables
(`base_means` `[C, D]`, `base_factors` `[M, D]` and `base_row_class` `[M]`, see
`tfglow.augment.methods.BaseStatistics`) and three signatures; `B`, `K` and `num` are dynamic:

```none
augment  images uint8 [K, H, W, C], num int32 [], strength float32 [], seed int64 []
         -> images uint8 [num, H, W, C], latents float32 [num, D]
         z = m_K + strength * g @ Y_R,  g ~ N(0, I) drawn from `seed` (stateless), where m_K is
         the mean latent of the K support images and Y_R the pooled covariance factor of the
         `num_related` base classes nearest to m_K: method 'pooled', relation 'nearest'
encode   images uint8 [B, H, W, C] -> latents float32 [B, D]      (bin centres, deterministic)
                                     exact bool [B]               (as in tfglow.serving.glow)
decode   latents float32 [B, D] -> images uint8 [B, H, W, C]      (levels as 0..255)
```

The maps are `tfglow.augment.latent.FlowCodec`'s, so `decode(encode(x))` gives back `x`'s levels
(`exact` says whether it did) and a binary model returns 0 and 255. Inputs are validated in the
graph (`tfglow.serving.checks`): a wrong shape fails in `EnsureShape`; an empty batch, `num < 1`
or more than `max_batch` (default 1024), a negative or non-finite strength, a strength that moves
the latents out of [-100, 100], latents given to `decode` outside [-100, 100], and a decoding that
overflows fail in assertions naming the input; all are InvalidArgument errors. Everything a
client needs is in `<version>/assets.extra/tfglow_metadata.json` (which `SavedModelCodec` reads).

Size: the factors hold every base image's deviation, `M x D` floats (60 MB for the 19,280
Omniglot background images at D = 784).
"""

import numpy as np
import tensorflow as tf
from absl import logging

from tfglow import validation
from tfglow.augment.latent import FlowCodec
from tfglow.augment.methods import BaseStatistics
from tfglow.serving import checks as serving_checks
from tfglow.serving import versions
from tfglow.serving.checks import (
    MAX_LATENT,
    after,
    checked_uint8,
    count_checks,
    flow_decode,
    image_checks,
    latent_bound_checks,
    latent_checks,
    non_negative_checks,
)
from tfglow.trained import FlowImages
from tfp_flows.distributions.few_shot_glow import FewShotGlow

__all__ = ['AUGMENT_SIGNATURES', 'AugmentServingModule', 'export_augment_saved_model']

AUGMENT_SIGNATURES = ('augment', 'encode', 'decode')
# The augmentation noise is drawn from this stream of the request's seed.
_NOISE_STREAM = 11


class AugmentServingModule(tf.Module):
    """The exported module; its signatures are callable in-process too (`module.augment(...)`).

    Args:
      codec: the flow and its pixel maps.
      base: statistics of the base classes (same latent size as `codec`).
      num_related: nearest base classes pooled per request.
      max_batch: the most images one request may make (`num`). Default value:
        `tfglow.serving.checks.DEFAULT_MAX_BATCH`.
    """

    def __init__(
        self,
        codec: FlowCodec,
        base: BaseStatistics,
        num_related: int = 10,
        max_batch: int = serving_checks.DEFAULT_MAX_BATCH,
    ):
        super().__init__(name='augment_serving')
        self._max_batch = validation.integer(max_batch, 'max_batch', 1)
        if base.latent_size != codec.latent_size:
            raise ValueError(
                f'the base statistics are {base.latent_size}-dimensional, the model '
                f'{codec.latent_size}-dimensional: encode the base classes with this model.'
            )
        self._codec = codec
        self._num_related = min(validation.integer(num_related, 'num_related', 1), base.num_classes)
        self._num_base = base.num_classes
        self.model = codec.model
        # The codec's maps, on the flow itself: the checks need its float output.
        flow = codec.model.glow if isinstance(codec.model, FewShotGlow) else codec.model
        self._flow = FlowImages(flow, codec.n_bits)
        self.base_means = tf.Variable(
            base.means.astype(np.float32), trainable=False, name='base_means'
        )
        self.base_factors = tf.Variable(base.factors, trainable=False, name='base_factors')
        self.base_row_class = tf.Variable(
            base.class_of_row.astype(np.int32), trainable=False, name='base_row_class'
        )
        images = tf.TensorSpec([None, *codec.image_shape], tf.uint8, name='images')
        scalar = lambda dtype, name: tf.TensorSpec([], dtype, name=name)
        self.augment = tf.function(
            self._augment,
            input_signature=[
                images,
                scalar(tf.int32, 'num'),
                scalar(tf.float32, 'strength'),
                scalar(tf.int64, 'seed'),
            ],
        )
        self.encode = tf.function(self._encode, input_signature=[images])
        self.decode = tf.function(
            self._decode,
            input_signature=[tf.TensorSpec([None, codec.latent_size], tf.float32, name='latents')],
        )

    def signatures(self) -> dict[str, tf.types.experimental.ConcreteFunction]:
        functions = (self.augment, self.encode, self.decode)
        return versions.trace_signatures(zip(AUGMENT_SIGNATURES, functions, strict=True))

    def metadata(self) -> dict:
        codec = self._codec
        return {
            'format': 'tfglow.augment',
            'method': 'pooled',
            'relation': 'nearest',
            'num_related': self._num_related,
            'num_base_classes': self._num_base,
            'checkpoint': codec.checkpoint,
            'step': codec.step,
            'image_shape': list(codec.image_shape),
            'n_bits': codec.n_bits,
            'latent_size': codec.latent_size,
            'latent_shapes': [list(shape) for shape in codec.latent_shapes],
            'num_classes': 0,
            'max_batch': self._max_batch,
            'max_latent': MAX_LATENT,
            'signatures': {
                name: versions.describe_signature(f) for name, f in self.signatures().items()
            },
        }

    def _checked_images(self, images):
        images, checks = image_checks(images, 'images', self._codec.image_shape)
        (images,) = after(checks, images)
        return images

    def _augment(self, images, num, strength, seed):
        images = self._checked_images(images)
        num, checks = count_checks(num, 'images to make', self._max_batch)
        strength, strength_checks = non_negative_checks(strength, 'strength')
        checks += strength_checks
        seed = tf.ensure_shape(seed, [], name='seed')
        num, strength = after(checks, num, strength)
        mean = tf.reduce_mean(self._codec.encode_tensor(images), axis=0)
        distances = tf.reduce_sum(tf.square(self.base_means - mean), axis=1)
        _, nearest = tf.math.top_k(-distances, k=self._num_related)
        in_related = tf.reduce_any(self.base_row_class[:, None] == nearest[None, :], axis=1)
        factor = tf.boolean_mask(self.base_factors, in_related) / np.sqrt(
            np.float32(self._num_related)
        )
        noise = tf.random.stateless_normal(
            tf.stack([num, tf.shape(factor)[0]]),
            seed=tf.stack([seed, tf.constant(_NOISE_STREAM, tf.int64)]),
        )
        latents = mean[None, :] + strength * (noise @ factor)
        message = (
            f'strength moves the latents out of [-{MAX_LATENT:g}, {MAX_LATENT:g}], where the '
            'flow decodes noise or overflows (or the support images overflow): use a smaller one'
        )
        (latents,) = after(latent_bound_checks(latents, message), latents)
        message = 'strength: the flow overflows on the new latents (not finite)'
        images = checked_uint8(flow_decode(self._flow, latents), self._codec.n_bits, message)
        return {'images': images, 'latents': latents}

    def _encode(self, images):
        outputs = serving_checks.encode_outputs(self._flow, self._checked_images(images))
        return {'latents': outputs['latents'], 'exact': outputs['exact']}

    def _decode(self, latents):
        latents, checks = latent_checks(latents, self._codec.latent_size)
        (latents,) = after(checks, latents)
        message = 'latents: the flow overflows on them (its output is not finite)'
        x = flow_decode(self._flow, latents)
        return {'images': checked_uint8(x, self._codec.n_bits, message)}


def export_augment_saved_model(
    codec: FlowCodec,
    base: BaseStatistics,
    export_dir: str,
    *,
    num_related: int = 10,
    version: int | None = None,
    max_batch: int = serving_checks.DEFAULT_MAX_BATCH,
) -> str:
    """Writes the augmentation SavedModel to `export_dir/<version>/`; returns that directory.

    Written to a hidden temporary directory and renamed into place, so a server watching
    `export_dir` never loads a half-written version.

    Raises:
      FileExistsError: when `version` already exists.
      ValueError: for base statistics of another latent size, or a version < 1.
    """
    versions.check_version(version)
    module = AugmentServingModule(codec, base, num_related, max_batch)
    target = versions.write_version(module, export_dir, version)
    logging.info('Exported augmentation of %s to %s.', codec.checkpoint or codec.name, target)
    return target
