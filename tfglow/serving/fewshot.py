"""The serving modules of the support-conditioned families: the few-shot Glow and the PixelCNNs.

`tfglow.serving.export.export_saved_model` (the `tfglow-export` command) exports a workdir whose
`config.model.name` is 'fewshot_glow', 'attention_pixelcnn' or 'pixelcnn' with
`support_serving_module`, in the layout of a Glow export: `export_dir/<version>/`, with
`<version>/assets.extra/tfglow_metadata.json` describing the model family, the image shape and
levels, and every signature's inputs and outputs. The weights are the run's EMA weights
(`tfglow.trained.restore_run`), as the few-shot evaluator scores them. The batch `B` and the
support size `K` are dynamic in every signature.

'fewshot_glow' (`tfp_flows.distributions.few_shot_glow.FewShotGlow`):

```none
fewshot_log_prob  images uint8 [B, H, W, C], support uint8 [B, K, H, W, C],
                  support_mask bool [B, K]
                  -> log_prob float32 [B]        log P(images_b | support set b), nats/image
                     bits_per_dim float32 [B]    -log_prob / (H * W * C * ln 2)
fewshot_sample    support uint8 [B, K, H, W, C], num int32 [], temperature float32 [],
                  seed int64 []
                  -> images uint8 [num, B, H, W, C]   num samples per set, a pure function of seed
serving_default   the same as fewshot_sample
encode            images uint8 [B, H, W, C]           context='none' models only, as in the
                  -> latents float32 [B, D],          Glow export: D = H * W * C, the levels'
                     latents_<l> float32 [B, h, w, c] latents concatenated, finest first;
                     exact bool [B]                   exact as in tfglow.serving.glow
decode            latents float32 [B, D]              context='none' models only
                  -> images uint8 [B, H, W, C]
```

- `support_mask` is required: True for the slots that belong to the set, False for padding,
  which then has no effect. Pass all True for full sets; an all-False row is the empty set (the
  model's no-support baseline). `fewshot_sample` uses every slot of `support`.
- `log_prob` is the evaluator's dequantisation bound ('dequantized' in `tfglow.fewshot.adapters`):
  `1/S sum_s log p(x + u_s | support) - D log(n_bins)` over `S = num_noise_samples` (default 8)
  fixed noise draws `u_s = tfglow.pixels.uniform_noise(0, s)`, the draws the few-shot evaluator's
  `GlowAdapter` uses for seed 0 (stored in the variable `dequantization_noise`). So it equals, up
  to float32 rounding,
  `GlowAdapter(model, n_bits, S).log_prob_discrete(images, support, support_mask)['dequantized']`
  and is deterministic: equal inputs give equal outputs. A model with a learned dequantizer q
  (metadata `dequantization` 'variational') maps those draws through q and divides by it, as the
  adapter does.
- A `context='none'` model (the unconditional baseline) ignores `support` and `support_mask`
  (they are still validated); `fewshot_sample` then draws `num * B` independent images, returned
  as `[num, B, H, W, C]`. Its `encode` uses the centre of each pixel's bin, as the Glow export
  does, so `decode(encode(images)) == images` for images in the data's levels (see below).

'attention_pixelcnn' (`tfp_flows.AttentionPixelCNN`) and 'pixelcnn' (`tfp_flows.PixelCNN`):

```none
attention_pixelcnn:
  log_prob  images uint8 [B, H, W, C], support uint8 [B, K, H, W, C]
            -> log_prob float32 [B]      exact log P(images_b | support set b), nats/image
               bits_per_dim float32 [B]  -log_prob / (H * W * C * ln 2)
  sample    support uint8 [B, K, H, W, C], num int32 [], seed int64 []
            -> images uint8 [num, B, H, W, C]
pixelcnn (no support; `label` int32 only for a class-conditional model, then required):
  log_prob  images uint8 [B, H, W, C] (, label [B]) -> log_prob, bits_per_dim float32 [B]
  sample    num int32 [], seed int64 [] (, label [num]) -> images uint8 [num, H, W, C]
serving_default  the same as sample
```

Every slot of an Attention PixelCNN's `support` is used. The PixelCNNs sample exactly, at
temperature 1: `sample` has no temperature.

Pixels and levels, as training and the evaluators map them (`tfglow.pixels`): a model with
`n_bits` (`config.model.n_bits_x`) has `n_bins = 2**n_bits` levels, and uint8 pixel `p` is level
`p // 2**(8 - n_bits)` (Omniglot, `n_bits` 1: `p >= 128` is ink). Output images show level `v`
as uint8 `v * 255 // (n_bins - 1)`, so binary ink is 255, as in the data, and samples can go
back into a support set.

Seeds: the int64 `seed` becomes the stateless pair `(low 32 bits, high 32 bits)`, which for
`0 <= seed < 2**31` is `(seed, 0)`, the pair of the few-shot evaluator's adapters:
`fewshot_sample` and `sample` return what the adapter's `sample_uint8(num, support, seed=seed,
...)` returns.

Validation and limits: as in the Glow export (`tfglow.serving.checks`). A wrong shape fails in
`EnsureShape` naming the input; an empty batch, `K < 1`, a support batch other than the images',
a `support_mask` whose shape is not `support`'s `[B, K]`, `num < 1`, more than `max_batch` images
made (`num * B`), a `temperature` outside [0, 2], latents outside [-100, 100] or a label out of
range fail in assertions whose message names the input; a non-finite sample, decoding or
log_prob fails naming its inputs rather than being returned. All are InvalidArgument errors.

#### Examples

```python
signatures = tf.saved_model.load('exports/omniglot_fewshot_glow/1').signatures
mask = np.ones(support.shape[:2], bool)  # support: uint8 [B, K, 28, 28, 1]
nats = signatures['fewshot_log_prob'](images=images, support=support, support_mask=mask)
samples = signatures['fewshot_sample'](
    support=support, num=tf.constant(4), temperature=tf.constant(0.7), seed=tf.constant(0, tf.int64)
)['images']  # uint8 [4, B, 28, 28, 1]
```
"""

import math

import tensorflow as tf

import tfp_flows
import tfp_flows.dequantization as dq
from tfglow import pixels, validation
from tfglow.fewshot.adapters import ESTIMATORS
from tfglow.serving import checks, versions
from tfglow.trained import FlowImages, TrainedRun
from tfp_flows.distributions.variational_dequantizer import dequantized_log_weight

__all__ = [
    'FAMILIES',
    'FewShotGlowServingModule',
    'PixelCNNServingModule',
    'support_serving_module',
]

FAMILIES = ('fewshot_glow', 'attention_pixelcnn', 'pixelcnn')


def _seed_pair(seed: tf.Tensor) -> tf.Tensor:
    """int64 `[]` -> int32 `[2]` `(low 32 bits, high 32 bits)`: `(seed, 0)` for small seeds.

    TFP's samplers take int32 seed pairs; splitting the bits keeps every int64 seed distinct.
    """
    seed = tf.cast(seed, tf.int64)
    low = tf.bitcast(tf.cast(tf.bitwise.bitwise_and(seed, 0xFFFFFFFF), tf.uint32), tf.int32)
    high = tf.cast(tf.bitwise.right_shift(seed, 32), tf.int32)
    return tf.stack([low, high])


class _SupportServingModule(tf.Module):
    """What the few-shot exports share: the run's facts, the support checks, the metadata."""

    def __init__(self, run: TrainedRun, name: str, max_batch: int):
        super().__init__(name=name)
        self._max_batch = validation.integer(max_batch, 'max_batch', 1)
        self.model = model = run.model
        self._family = run.family
        self._class_names = run.task.info.class_names
        self._checkpoint = run.checkpoint
        self._step = run.step
        self._n_bits = int(run.config.model.n_bits_x)
        self.image_shape = tuple(int(d) for d in model.image_shape)
        self._images_spec = tf.TensorSpec([None, *self.image_shape], tf.uint8, name='images')
        self._support_spec = tf.TensorSpec(
            [None, None, *self.image_shape], tf.uint8, name='support'
        )

    @property
    def num_bins(self) -> int:
        return 2**self._n_bits

    def signatures(self) -> dict[str, tf.types.experimental.ConcreteFunction]:
        """The SavedModel signatures, by name."""
        return versions.trace_signatures(self._functions())

    def _functions(self) -> list[tuple[str, tf.types.experimental.GenericFunction]]:
        raise NotImplementedError

    def metadata(self) -> dict:
        """What a client needs to call the export, as JSON-serialisable values."""
        return {
            'format': 'tfglow.export',
            'model_family': self._family,
            'model_type': type(self.model).__name__,
            'checkpoint': self._checkpoint,
            'step': self._step,
            'image_shape': list(self.image_shape),
            'n_bits': self._n_bits,
            'num_bins': self.num_bins,
            'levels': (
                f'uint8 p -> level p // {2 ** (8 - self._n_bits)}; level v -> uint8 '
                f'v * 255 // {self.num_bins - 1}'
            ),
            'max_batch': self._max_batch,
            **self._details(),
            'signatures': {
                name: versions.describe_signature(function)
                for name, function in self.signatures().items()
            },
        }

    def _details(self) -> dict:
        return {}

    # Input checks; see the module docstring.

    def _support_checks(self, support: tf.Tensor, sets: tf.Tensor | None = None):
        """Shape `[B, K >= 1, H, W, C]` with `B == sets` (or `B >= 1`); `(support, asserts)`."""
        support = tf.ensure_shape(support, self._support_spec.shape, name='support')
        shape = tf.shape(support)
        asserts = [
            tf.debugging.assert_positive(
                shape[1], message='support must hold K >= 1 images per set'
            )
        ]
        if sets is None:
            asserts.append(
                tf.debugging.assert_positive(
                    shape[0], message='support must hold at least one set [K, H, W, C]'
                )
            )
        else:
            asserts.append(
                tf.debugging.assert_equal(
                    shape[0],
                    sets,
                    message='support must hold one set per image: support [B, K, H, W, C] for '
                    'images [B, H, W, C]',
                )
            )
        return support, asserts

    def _count_checks(self, num: tf.Tensor, sets: tf.Tensor | None = None):
        """`1 <= num` and `num * sets <= max_batch` (the images made); `(num, asserts)`."""
        num, asserts = checks.count_checks(num, 'samples', self._max_batch)
        if sets is not None:
            asserts += checks.product_checks(num, sets, 'num * B', self._max_batch)
        return num, asserts

    def _finite(self, values: tf.Tensor, message: str) -> tf.Tensor:
        (values,) = checks.after(checks.finite_checks(values, message), values)
        return values


class FewShotGlowServingModule(_SupportServingModule):
    """The exported `tf.Module` of a `FewShotGlow`: `fewshot_log_prob`, `fewshot_sample` and,
    for `context='none'`, `encode` and `decode` (see the module docstring).

    Args:
      run: a 'fewshot_glow' run (`tfglow.trained.restore_run`): its `FewShotGlow` holds the
        weights to export.
      num_noise_samples: `S`, dequantisation draws of `fewshot_log_prob`. Default value: 8.
      max_batch: the most images one request may make (`num * B`). Default value:
        `tfglow.serving.checks.DEFAULT_MAX_BATCH`.
    """

    def __init__(
        self,
        run: TrainedRun,
        num_noise_samples: int = 8,
        max_batch: int = checks.DEFAULT_MAX_BATCH,
    ):
        super().__init__(run, name='fewshot_glow_serving', max_batch=max_batch)
        num_noise_samples = validation.integer(num_noise_samples, 'num_noise_samples', 1)
        # The noise the evaluator's GlowAdapter draws for seed 0 (draw j is the same for every
        # image), so that the bound here is the evaluator's.
        noise = pixels.uniform_noise(0, tf.range(num_noise_samples), self.image_shape)
        self.dequantization_noise = tf.Variable(noise, trainable=False, name='dequantization_noise')
        scalar = lambda dtype, name: tf.TensorSpec([], dtype, name=name)
        self.fewshot_log_prob = tf.function(
            self._fewshot_log_prob,
            input_signature=[
                self._images_spec,
                self._support_spec,
                tf.TensorSpec([None, None], tf.bool, name='support_mask'),
            ],
        )
        self.fewshot_sample = tf.function(
            self._fewshot_sample,
            input_signature=[
                self._support_spec,
                scalar(tf.int32, 'num'),
                scalar(tf.float32, 'temperature'),
                scalar(tf.int64, 'seed'),
            ],
        )
        self._glow = None
        if not self.model.is_conditional:
            # The unconditional model is a plain Glow: FlowImages' latent conventions apply.
            self._glow = FlowImages(self.model.glow, self._n_bits)
            self.encode = tf.function(self._encode, input_signature=[self._images_spec])
            self.decode = tf.function(
                self._decode,
                input_signature=[
                    tf.TensorSpec([None, self._glow.latent_size], tf.float32, name='latents')
                ],
            )

    def _functions(self):
        functions = [
            ('serving_default', self.fewshot_sample),
            ('fewshot_log_prob', self.fewshot_log_prob),
            ('fewshot_sample', self.fewshot_sample),
        ]
        if self._glow is not None:
            functions += [('encode', self.encode), ('decode', self.decode)]
        return functions

    def _details(self) -> dict:
        details = {
            'takes_support': bool(self.model.is_conditional),
            'context': 'none' if self._glow is not None else 'support set',
            'estimator': 'dequantized',
            'dequantization': 'uniform' if self.model.dequantizer is None else 'variational',
            'estimator_details': ESTIMATORS['dequantized'],
            'num_noise_samples': int(self.dequantization_noise.shape[0]),
        }
        if self._glow is not None:
            details['latent_size'] = self._glow.latent_size
            details['latent_shapes'] = [list(shape) for shape in self._glow.latent_shapes]
        return details

    def _fewshot_log_prob(self, images, support, support_mask):
        images, asserts = checks.image_checks(images, 'images', self.image_shape)
        support, support_checks = self._support_checks(support, tf.shape(images)[0])
        support_mask = tf.ensure_shape(support_mask, [None, None], name='support_mask')
        asserts += support_checks
        asserts.append(
            tf.debugging.assert_equal(
                tf.shape(support_mask),
                tf.shape(support)[:2],
                message='support_mask must have shape [B, K]: one flag per slot of support',
            )
        )
        images, support, support_mask = checks.after(asserts, images, support, support_mask)
        x = dq.preprocess(images, self._n_bits)
        contexts = None
        if self.model.is_conditional:
            # The support is encoded once for all noise draws.
            contexts = self.model.contexts(
                dq.preprocess(support, self._n_bits), support_mask, batch_size=tf.shape(x)[0]
            )

        def draw_log_prob(noise):
            density = lambda x_cont: self.model.glow.log_prob(x_cont, context=contexts)
            noise = tf.broadcast_to(noise, tf.shape(x))
            return dequantized_log_weight(density, x, noise, self._n_bits, self.model.dequantizer)

        # A loop, not a batch of S * B images: memory as for one batch, a graph of one model.
        draws = tf.map_fn(
            draw_log_prob,
            tf.convert_to_tensor(self.dequantization_noise),
            fn_output_signature=self.model.dtype,
        )
        num_dims = math.prod(self.image_shape)
        # Averaged in float64, as the evaluator does.
        log_prob = tf.reduce_mean(tf.cast(draws, tf.float64), axis=0)
        log_prob -= num_dims * math.log(self.num_bins)
        message = 'images, support: their log_prob is not finite (the flow overflows on them)'
        log_prob = self._finite(log_prob, message)
        return {
            'log_prob': tf.cast(log_prob, tf.float32),
            'bits_per_dim': tf.cast(-log_prob / (num_dims * math.log(2.0)), tf.float32),
        }

    def _fewshot_sample(self, support, num, temperature, seed):
        support, asserts = self._support_checks(support)
        num, num_checks = self._count_checks(num, tf.shape(support)[0])
        temperature, temperature_checks = checks.non_negative_checks(
            temperature, 'temperature', checks.MAX_TEMPERATURE
        )
        asserts += num_checks + temperature_checks
        support, num, temperature = checks.after(asserts, support, num, temperature)
        seed = _seed_pair(tf.ensure_shape(seed, [], name='seed'))
        sets = tf.shape(support)[0]
        if self.model.is_conditional:
            x = self.model.sample(
                num,
                support=dq.preprocess(support, self._n_bits),
                support_mask=tf.ones([sets, tf.shape(support)[1]], tf.bool),
                temperature=temperature,
                seed=seed,
            )
        else:
            x = self.model.sample(num * sets, temperature=temperature, seed=seed)
            x = tf.reshape(x, tf.concat([[num, sets], self.image_shape], axis=0))
        message = 'temperature: the samples overflow (not finite); use a lower one'
        return {'images': checks.checked_uint8(x, self._n_bits, message)}

    def _encode(self, images):
        images, asserts = checks.image_checks(images, 'images', self.image_shape)
        (images,) = checks.after(asserts, images)
        return checks.encode_outputs(self._glow, images)

    def _decode(self, latents):
        latents, asserts = checks.latent_checks(latents, self._glow.latent_size)
        (latents,) = checks.after(asserts, latents)
        message = 'latents: the flow overflows on them (its output is not finite)'
        x = checks.flow_decode(self._glow, latents)
        return {'images': checks.checked_uint8(x, self._n_bits, message)}


class PixelCNNServingModule(_SupportServingModule):
    """The exported `tf.Module` of a `tfp_flows.PixelCNN` or `AttentionPixelCNN`: `log_prob`
    and `sample`, with a `support` input for the attention model and a `label` input for a
    class-conditional one (see the module docstring).

    Args:
      run: a 'pixelcnn' or 'attention_pixelcnn' run (`tfglow.trained.restore_run`): its
        `tfp_flows.PixelCNN` holds the weights to export.
      max_batch: the most images one request may make (`num * B`). Default value:
        `tfglow.serving.checks.DEFAULT_MAX_BATCH`.
    """

    def __init__(self, run: TrainedRun, max_batch: int = checks.DEFAULT_MAX_BATCH):
        super().__init__(run, name='pixel_cnn_serving', max_batch=max_batch)
        self.takes_support = isinstance(self.model, tfp_flows.AttentionPixelCNN)
        self.num_classes = int(self.model.num_classes)
        label = [tf.TensorSpec([None], tf.int32, name='label')] if self.num_classes else []
        num = tf.TensorSpec([], tf.int32, name='num')
        seed = tf.TensorSpec([], tf.int64, name='seed')
        if self.takes_support:
            self.log_prob = tf.function(
                self._log_prob_given,
                input_signature=[self._images_spec, self._support_spec, *label],
            )
            self.sample = tf.function(
                self._sample_given, input_signature=[self._support_spec, num, seed, *label]
            )
        else:
            self.log_prob = tf.function(
                self._log_prob_alone, input_signature=[self._images_spec, *label]
            )
            self.sample = tf.function(self._sample_alone, input_signature=[num, seed, *label])

    def _functions(self):
        return [
            ('serving_default', self.sample),
            ('log_prob', self.log_prob),
            ('sample', self.sample),
        ]

    def _details(self) -> dict:
        return {
            'takes_support': self.takes_support,
            'output': self.model.output,
            'num_classes': self.num_classes,
            'class_names': self._class_names if self.num_classes else None,
            'estimator': 'exact',
            'estimator_details': ESTIMATORS['exact'],
        }

    def _checked(self, asserts: list, label, label_count, label_what: str, *tensors) -> tuple:
        """`(label kwargs, *tensors)` once `asserts` and the label's asserts (if any) passed."""
        if label is None:
            return ({}, *checks.after(asserts, *tensors))
        label, more = checks.label_checks(label, label_count, label_what, self.num_classes)
        label, *tensors = checks.after(asserts + more, label, *tensors)
        return ({'label': label}, *tensors)

    def _outputs(self, log_prob: tf.Tensor) -> dict:
        num_dims = math.prod(self.image_shape)
        message = 'images: their log_prob is not finite'
        log_prob = self._finite(tf.cast(log_prob, tf.float32), message)
        return {'log_prob': log_prob, 'bits_per_dim': -log_prob / (num_dims * math.log(2.0))}

    def _all_slots(self, support: tf.Tensor) -> dict:
        """The model's support kwargs: levels and an all-True mask, as the evaluator gives them."""
        return {
            'support': pixels.to_levels(support, self._n_bits),
            'support_mask': tf.ones(tf.shape(support)[:2], tf.bool),
        }

    def _log_prob_given(self, images, support, label=None):
        images, asserts = checks.image_checks(images, 'images', self.image_shape)
        batch = tf.shape(images)[0]
        support, support_checks = self._support_checks(support, batch)
        kwargs, images, support = self._checked(
            asserts + support_checks, label, batch, 'image', images, support
        )
        kwargs.update(self._all_slots(support))
        return self._outputs(self.model.log_prob(pixels.to_levels(images, self._n_bits), **kwargs))

    def _log_prob_alone(self, images, label=None):
        images, asserts = checks.image_checks(images, 'images', self.image_shape)
        kwargs, images = self._checked(asserts, label, tf.shape(images)[0], 'image', images)
        return self._outputs(self.model.log_prob(pixels.to_levels(images, self._n_bits), **kwargs))

    def _sample_given(self, support, num, seed, label=None):
        support, asserts = self._support_checks(support)
        num, num_checks = self._count_checks(num, tf.shape(support)[0])
        kwargs, support, num = self._checked(
            asserts + num_checks, label, tf.shape(support)[0], 'support set', support, num
        )
        kwargs.update(self._all_slots(support))
        seed = _seed_pair(tf.ensure_shape(seed, [], name='seed'))
        levels = self.model.sample(num, seed=seed, **kwargs)
        return {'images': pixels.to_uint8(levels, self._n_bits)}

    def _sample_alone(self, num, seed, label=None):
        num, asserts = self._count_checks(num)
        kwargs, num = self._checked(asserts, label, num, 'sampled image', num)
        seed = _seed_pair(tf.ensure_shape(seed, [], name='seed'))
        if kwargs:
            # One sample for each of the `num` labels: [1, num, H, W, C].
            levels = self.model.sample(1, seed=seed, **kwargs)[0]
        else:
            levels = self.model.sample(num, seed=seed)
        return {'images': pixels.to_uint8(levels, self._n_bits)}


def support_serving_module(
    run: TrainedRun, *, num_noise_samples: int = 8, max_batch: int = checks.DEFAULT_MAX_BATCH
) -> FewShotGlowServingModule | PixelCNNServingModule:
    """The serving module of a run of one of `FAMILIES`, holding its EMA weights.

    Args:
      run: the restored run (`tfglow.trained.restore_run`).
      num_noise_samples: dequantisation draws of a few-shot Glow's `fewshot_log_prob`. Default
        value: 8.
      max_batch: the most images one request may make. Default value:
        `tfglow.serving.checks.DEFAULT_MAX_BATCH`.

    Raises:
      ValueError: for another model family.
    """
    if run.family == 'fewshot_glow':
        return FewShotGlowServingModule(run, num_noise_samples, max_batch)
    if run.family in ('attention_pixelcnn', 'pixelcnn'):
        return PixelCNNServingModule(run, max_batch)
    raise ValueError(
        f'{run.checkpoint} holds a {run.family!r} model; this exporter takes '
        f"{', '.join(FAMILIES)} (tfglow.serving.glow exports 'glow')."
    )
