"""Gated PixelCNN (van den Oord et al., 2016) as a TFP distribution over integer-valued images."""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows import _validation
from tfp_flows.networks.gated_pixel_cnn import GatedPixelCNN

tfd = tfp.distributions

__all__ = ['PixelCNN']

OUTPUTS = ('categorical', 'logistic_mixture', 'bernoulli')

# PixelCNN++'s floor on the logistic log-scale: a bin is 2/255 wide, and narrower components only
# make the loss spikier.
_MIN_LOG_SCALE = -7.0


class PixelCNN(tfd.Distribution):
    """A gated PixelCNN: an autoregressive distribution over images `[H, W, C]` of integers.

    ```none
    p(x) = prod_{r, c, k} p(x[r, c, k] | x[r', c', k'] before it)   # rows, then columns, then
                                                                    # channels (R, G, B)
    p(x[r, c, k] | ...) = Categorical(256 logits)             output='categorical'
                        = discretised mixture of logistics     output='logistic_mixture'
                        = Bernoulli(logit)                     output='bernoulli'
    logits = GatedPixelCNN(x, label)                           # tfp_flows.networks
    ```

    Values are integers, as an integer tensor (uint8, int32, ...): `{0, ..., 255}` for
    'categorical' and 'logistic_mixture', `{0, 1}` for 'bernoulli' (binarised images such as
    Omniglot). `log_prob` is in nats, one parallel pass of the network; `sample` is autoregressive,
    one `tf.function` that computes only what each next sub-pixel needs (see
    `GatedPixelCNN.autoregress`). The network reads `x / 127.5 - 1` (or `2 x - 1` for binary data).

    Output heads. 'categorical' (the default, as in van den Oord et al.) assumes nothing about
    the shape of each conditional: spikes at 0 and 255 (Fashion-MNIST's background) and bimodal
    edge pixels cost nothing extra, and sampling is one categorical draw. 'logistic_mixture'
    (Salimans et al.'s PixelCNN++) has 3 * num_mixtures parameters per sub-pixel instead of 256
    and a smooth intensity prior, which PixelCNN++ found to train faster on natural colour images.
    Here every sub-pixel gets its own mixture, conditioned on the earlier sub-pixels through the
    masks (the same factorisation as the categorical head), rather than PixelCNN++'s linear
    channel coupling. Both heads are exact and normalised; the mixture's bin probabilities use an
    identity free of cancellation:
    `sigmoid(a) - sigmoid(b) = sinh((a - b) / 2) / (2 cosh(a / 2) cosh(b / 2))`.

    Conditioning travels as keyword arguments on `log_prob` and `sample`: `label` (int, shape
    `[]` or `[B]`) for a class-conditional model (`num_classes > 0`). Batch semantics: the
    conditioning has a batch shape `Bc` (`[]` or `[B]`); `log_prob(x, label=y)` takes
    `x [..., *Bc, H, W, C]` and returns `[..., *Bc]`, broadcasting `y` over the leading
    dimensions; `sample(n, label=y)` returns `[n, *Bc, H, W, C]`: `n` samples for each of the `B`
    conditions. Without conditioning the batch shape is `[]`: `sample(n)` is `[n, H, W, C]`.
    `sample(..., seed=s)` with an int or a stateless `[2]` seed gives the same images on every
    call (unlike TFP's stateful int seeds); `seed=None` draws fresh randomness.
    `sample(..., temperature=T)` tempers every conditional (`p**(1/T)`, renormalised; see
    `_draw`): T = 1 (the default) samples the model exactly, T < 1 sharpens each pixel's choice.

    Args:
      image_shape: `(H, W, C)`.
      output: `'categorical'` | `'logistic_mixture'` | `'bernoulli'`. Default value:
        `'categorical'`.
      num_layers: gated layers. Default value: 12.
      hidden_width: channels of the vertical and horizontal stacks. Default value: 64.
      kernel_size: odd kernel size of layers 1... Default value: 3.
      first_kernel_size: odd kernel size of the first (mask 'A') layer. Default value: 7.
      head_width: channels of the hidden 1x1 layer of the output head. Default: `2 * hidden_width`.
      num_classes: classes for a class-conditional model, 0 for none. Default value: 0.
      num_mixtures: logistic components per sub-pixel ('logistic_mixture'). Default value: 10.
      seed: int, `np.random.SeedSequence` or None, for the initial weights. Default value: None.
      image_dtype: integer dtype of samples (`self.dtype`). Default value: `tf.int32`.
      validate_args: Python `bool`; adds run-time checks of value and label ranges (static
        values are always checked). Default value: `False`.
      dtype: float dtype of the weights and of `log_prob`. Default value: `tf.float32`.
      name: Default value: `'PixelCNN'`.

    #### Examples

    ```python
    pixel_cnn = tfp_flows.PixelCNN(image_shape=(28, 28, 1), num_classes=10)
    nats = pixel_cnn.log_prob(images_uint8, label=labels)     # [B]
    samples = pixel_cnn.sample(4, label=[0, 1, 2], seed=42)    # [4, 3, 28, 28, 1] int32
    binary = tfp_flows.PixelCNN(image_shape=(28, 28, 1), output='bernoulli')
    ```

    #### References

    [1]: Aaron van den Oord, Nal Kalchbrenner, Oriol Vinyals, Lasse Espeholt, Alex Graves,
         Koray Kavukcuoglu. Conditional Image Generation with PixelCNN Decoders. In NeurIPS,
         2016. https://arxiv.org/abs/1606.05328

    [2]: Tim Salimans, Andrej Karpathy, Xi Chen, Diederik P. Kingma. PixelCNN++: Improving the
         PixelCNN with Discretized Logistic Mixture Likelihood and Other Modifications. In ICLR,
         2017. https://arxiv.org/abs/1701.05517

    [3]: Prajit Ramachandran, Tom Le Paine, Pooya Khorrami, Mohammad Babaeizadeh, Shiyu Chang,
         Yang Zhang, Mark A. Hasegawa-Johnson, Roy H. Campbell, Thomas S. Huang. Fast Generation
         for Convolutional Autoregressive Models. In ICLR workshop, 2017.
         https://arxiv.org/abs/1704.06001
    """

    def __init__(
        self,
        image_shape,
        output: str = 'categorical',
        num_layers: int = 12,
        hidden_width: int = 64,
        kernel_size: int = 3,
        first_kernel_size: int = 7,
        head_width: int | None = None,
        num_classes: int = 0,
        num_mixtures: int = 10,
        seed=None,
        image_dtype: tf.DType = tf.int32,
        validate_args: bool = False,
        dtype: tf.DType = tf.float32,
        name: str = 'PixelCNN',
    ):
        parameters = dict(locals())
        image_shape = _validation.image_shape(image_shape)
        if output not in OUTPUTS:
            raise ValueError(f'output must be one of {OUTPUTS}; got {output!r}.')
        if output == 'logistic_mixture':
            _validation.integer(num_mixtures, 'num_mixtures', 1)
        image_dtype, dtype = tf.as_dtype(image_dtype), tf.as_dtype(dtype)
        if not image_dtype.is_integer:
            raise ValueError(f'image_dtype must be an integer dtype; got {image_dtype.name}.')
        if not dtype.is_floating:
            raise ValueError(f'dtype must be a floating dtype; got {dtype.name}.')
        params_per_sub_pixel = {'categorical': 256, 'bernoulli': 1}.get(output, 3 * num_mixtures)
        with tf.name_scope(name) as name:
            self._image_shape = image_shape
            self._output = output
            self._num_mixtures = int(num_mixtures)
            self._max_value = 1 if output == 'bernoulli' else 255
            self._float_dtype = dtype
            self.network = GatedPixelCNN(
                image_shape,
                params_per_sub_pixel,
                num_layers=num_layers,
                hidden_width=hidden_width,
                kernel_size=kernel_size,
                first_kernel_size=first_kernel_size,
                head_width=head_width,
                num_classes=num_classes,
                seed=seed,
                dtype=dtype,
                name='network',
            )
            super().__init__(
                dtype=image_dtype,
                reparameterization_type=tfd.NOT_REPARAMETERIZED,
                validate_args=validate_args,
                allow_nan_stats=True,
                parameters=parameters,
                name=name,
            )

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self._image_shape

    @property
    def output(self) -> str:
        return self._output

    @property
    def num_classes(self) -> int:
        return self.network.num_classes

    @property
    def max_value(self) -> int:
        """The largest pixel value: 255, or 1 for 'bernoulli'."""
        return self._max_value

    def _batch_shape(self):
        return tf.TensorShape([])

    def _batch_shape_tensor(self):
        return tf.constant([], tf.int32)

    def _event_shape(self):
        return tf.TensorShape(self._image_shape)

    def _event_shape_tensor(self):
        return tf.constant(self._image_shape, tf.int32)

    def _check_integers(self, value, name: str, min_rank: int) -> tf.Tensor:
        """Static checks (dtype, shape, and values when known) of pixel values; returns int32."""
        value = tf.convert_to_tensor(value)
        if not value.dtype.is_integer:
            raise ValueError(
                f'{name} must be an integer tensor (uint8, int32, ...) of pixel values in '
                f'{{0, ..., {self._max_value}}}; got dtype {value.dtype.name}.'
            )
        shape = value.shape
        if shape.rank is not None:
            if shape.rank < min_rank:
                layout = '[..., H, W, C]' if min_rank == 3 else '[B, K, H, W, C]'
                raise ValueError(f'{name} must have shape {layout}; got shape {shape}.')
            if not shape[-3:].is_compatible_with(self._image_shape):
                raise ValueError(
                    f'{self.name} was built for images of shape {self._image_shape}; '
                    f'{name} has shape {shape}.'
                )
        static = tf.get_static_value(value)
        if static is not None and static.size:
            low, high = int(static.min()), int(static.max())
            if low < 0 or high > self._max_value:
                raise ValueError(
                    f'{name} must hold values in {{0, ..., {self._max_value}}} '
                    f"(output='{self._output}'); got values in [{low}, {high}]."
                )
        value = tf.cast(value, tf.int32)
        if self.validate_args:
            with tf.control_dependencies(
                [
                    tf.debugging.assert_non_negative(value, message=f'{name} must be >= 0'),
                    tf.debugging.assert_less_equal(
                        value, self._max_value, message=f'{name} must be <= {self._max_value}'
                    ),
                ]
            ):
                value = tf.identity(value)
        return value

    def _check_label(self, label):
        if self.num_classes and label is None:
            raise ValueError(
                f'{self.name} is class-conditional (num_classes={self.num_classes}): pass '
                'label=int [B] (or a scalar).'
            )
        if label is None:
            return None
        if not self.num_classes:
            raise ValueError(f'{self.name} is not class-conditional (num_classes=0); got a label.')
        label = tf.convert_to_tensor(label)
        if not label.dtype.is_integer:
            raise ValueError(f'label must be an integer tensor; got dtype {label.dtype.name}.')
        if label.shape.rank is not None and label.shape.rank > 1:
            raise ValueError(f'label must have shape [] or [B]; got {label.shape}.')
        static = tf.get_static_value(label)
        if static is not None and static.size:
            if static.min() < 0 or static.max() >= self.num_classes:
                raise ValueError(
                    f'label must be in [0, {self.num_classes}); got values in '
                    f'[{static.min()}, {static.max()}].'
                )
        label = tf.cast(label, tf.int32)
        if self.validate_args:
            with tf.control_dependencies(
                [
                    tf.debugging.assert_non_negative(label, message='label must be >= 0'),
                    tf.debugging.assert_less(
                        label,
                        self.num_classes,
                        message=f'label must be < num_classes={self.num_classes}',
                    ),
                ]
            ):
                label = tf.identity(label)
        return label

    def _check_support(self, support, support_mask, empty_set: str) -> tuple:
        """Checked `(support int32 [B, K, H, W, C], support_mask bool [B, K] or None)`.

        For the support-conditioned subclasses; `empty_set` ends the error for `K = 0` with how
        this model takes an empty set.
        """
        support = self._check_integers(support, 'support', min_rank=5)
        if support.shape.rank is not None and support.shape.rank != 5:
            raise ValueError(f'support must have shape [B, K, H, W, C]; got {support.shape}.')
        if support.shape.rank == 5 and support.shape[1] == 0:
            raise ValueError(f'support must have K >= 1 slots; {empty_set}.')
        if support_mask is None:
            return support, None
        support_mask = tf.convert_to_tensor(support_mask)
        if not (support_mask.dtype.is_bool or support_mask.dtype.is_integer):
            raise ValueError(
                'support_mask must be a bool (or 0/1 integer) tensor [B, K]; got dtype '
                f'{support_mask.dtype.name}.'
            )
        if not support_mask.shape.is_compatible_with(support.shape[:2]):
            raise ValueError(
                f'support_mask must have shape [B, K] = {support.shape[:2]}; got '
                f'{support_mask.shape}.'
            )
        if not support_mask.dtype.is_bool:
            support_mask = tf.not_equal(support_mask, 0)
        return support, support_mask

    def _conditioning(self, label=None, support=None, support_mask=None) -> dict:
        """The checked conditioning kwargs, as a dict of tensors (or None)."""
        if support is not None or support_mask is not None:
            raise ValueError(
                f'{self.name} takes no support set; use tfp_flows.AttentionPixelCNN to condition '
                'on support images.'
            )
        return {'label': self._check_label(label)}

    def _conditioning_batch_shape(self, conditioning: dict):
        """`(static TensorShape, int32 tensor)`: the batch shape `Bc` of the conditioning."""
        label = conditioning['label']
        if label is None:
            return tf.TensorShape([]), tf.constant([], tf.int32)
        return label.shape, tf.shape(label)

    def _conditioner(self, conditioning: dict, leading: tf.Tensor):
        """A `GatedPixelCNN` conditioner for a batch `[prod(leading)]`; None here."""
        del conditioning, leading
        return None

    def _flat_label(self, conditioning: dict, leading: tf.Tensor):
        label = conditioning['label']
        if label is None:
            return None
        return tf.reshape(tf.broadcast_to(label, leading), [-1])

    def _check_leading(self, leading_shape: tf.TensorShape, batch_shape: tf.TensorShape) -> None:
        if leading_shape.rank is None or batch_shape.rank is None:
            return
        message = (
            f'the images have batch dimensions {leading_shape} but the conditioning has batch '
            f'shape {batch_shape}: pass images [..., *Bc, H, W, C] for conditioning of batch '
            'shape Bc.'
        )
        if batch_shape.rank > leading_shape.rank:
            raise ValueError(message)
        try:
            tf.broadcast_static_shape(leading_shape, batch_shape)
        except ValueError:
            raise ValueError(message) from None

    def preprocess(self, images) -> tf.Tensor:
        """Integer images -> the network's float inputs: `x / 127.5 - 1` (`2 x - 1` if binary)."""
        images = tf.cast(images, self._float_dtype)
        if self._output == 'bernoulli':
            return 2.0 * images - 1.0
        return images / 127.5 - 1.0

    def _network_parameters(self, inputs, conditioning):
        leading = tf.shape(inputs)[:-3]
        flat = tf.reshape(inputs, [-1, *self._image_shape])
        params = self.network(
            flat,
            label=self._flat_label(conditioning, leading),
            conditioner=self._conditioner(conditioning, leading),
        )
        return params, leading

    def output_parameters(self, inputs, **conditioning_kwargs) -> tf.Tensor:
        """Output parameters `[..., H, W, C, P]` of every sub-pixel, from network inputs.

        `conditioning_kwargs` are those of `log_prob` (`label` here; the subclasses' support
        sets).

        `inputs` are floats `[..., H, W, C]` as made by `preprocess` (so that gradients with
        respect to them can be taken). Per sub-pixel: 256 logits ('categorical'); 1 logit
        ('bernoulli'); `[mixture logits, means, log-scales]` of `num_mixtures` each, on the
        `[-1, 1]` scale ('logistic_mixture').
        """
        inputs = tf.convert_to_tensor(inputs, self._float_dtype)
        if inputs.shape.rank is not None and (
            inputs.shape.rank < 3 or not inputs.shape[-3:].is_compatible_with(self._image_shape)
        ):
            raise ValueError(
                f'inputs must have shape [..., {", ".join(map(str, self._image_shape))}]; got '
                f'{inputs.shape}.'
            )
        conditioning = self._conditioning(**conditioning_kwargs)
        self._check_leading(inputs.shape[:-3], self._conditioning_batch_shape(conditioning)[0])
        params, leading = self._network_parameters(inputs, conditioning)
        return tf.reshape(params, tf.concat([leading, tf.shape(params)[1:]], axis=0))

    def _sub_pixel_log_prob(self, params: tf.Tensor, values: tf.Tensor) -> tf.Tensor:
        """`params [..., P]`, int32 `values [...]` -> log-probabilities `[...]`."""
        if self._output == 'categorical':
            return -tf.nn.sparse_softmax_cross_entropy_with_logits(labels=values, logits=params)
        if self._output == 'bernoulli':
            return -tf.nn.sigmoid_cross_entropy_with_logits(
                labels=tf.cast(values, params.dtype), logits=params[..., 0]
            )
        return self._logistic_mixture_log_prob(params, values)

    def _logistic_mixture_log_prob(self, params, values):
        logits, means, log_scales = tf.split(params, 3, axis=-1)
        log_scales = tf.maximum(log_scales, _MIN_LOG_SCALE)
        x = self.preprocess(values)[..., None]
        inverse_scale = tf.exp(-log_scales)
        # The bin of x is [x - 1/255, x + 1/255] on the [-1, 1] scale: a and b are its standardised
        # edges, d their half-distance.
        upper = (x + 1.0 / 255.0 - means) * inverse_scale
        lower = (x - 1.0 / 255.0 - means) * inverse_scale
        half = inverse_scale / 255.0
        # log(sigmoid(a) - sigmoid(b)) = d + log(1 - exp(-2d)) - |a|/2 - |b|/2
        #                                - softplus(-|a|) - softplus(-|b|),   d = (a - b) / 2,
        # from sigmoid(a) - sigmoid(b) = sinh(d) / (2 cosh(a/2) cosh(b/2)): no cancellation.
        tiny = np.finfo(params.dtype.as_numpy_dtype).tiny
        interior = (
            half
            + tf.math.log(tf.maximum(-tf.math.expm1(-2.0 * half), tiny))
            - 0.5 * (tf.abs(upper) + tf.abs(lower))
            - tf.nn.softplus(-tf.abs(upper))
            - tf.nn.softplus(-tf.abs(lower))
        )
        # The end bins take the tails: P(x <= upper edge) for 0, P(x > lower edge) for 255.
        first_bin = -tf.nn.softplus(-upper)
        last_bin = -tf.nn.softplus(lower)
        values = values[..., None]
        component = tf.where(values == 0, first_bin, tf.where(values == 255, last_bin, interior))
        return tf.reduce_logsumexp(tf.nn.log_softmax(logits, axis=-1) + component, axis=-1)

    def _draw(self, params: tf.Tensor, seed: tf.Tensor, temperature: tf.Tensor) -> tf.Tensor:
        """One value int32 `[N]` per row of `params [N, P]`, with a stateless seed.

        `temperature` T tempers each conditional: the categorical and Bernoulli probabilities
        become `p**(1/T)` renormalised (logits / T), so T < 1 favours each pixel's likelier values;
        the logistic mixture tempers its component weights the same way and scales each
        component's width by T, as Glow scales its Gaussian prior's. T = 1 is the model itself.
        """
        if self._output == 'categorical':
            logits = params / temperature
            return tf.cast(tf.random.stateless_categorical(logits, 1, seed)[:, 0], tf.int32)
        if self._output == 'bernoulli':
            uniform = tf.random.stateless_uniform(tf.shape(params)[:1], seed, dtype=params.dtype)
            return tf.cast(uniform < tf.sigmoid(params[:, 0] / temperature), tf.int32)
        component_seed, noise_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        logits, means, log_scales = tf.split(params, 3, axis=-1)
        component = tf.random.stateless_categorical(logits / temperature, 1, component_seed)
        mean = tf.gather(means, component, batch_dims=1)[:, 0]
        log_scale = tf.maximum(tf.gather(log_scales, component, batch_dims=1)[:, 0], _MIN_LOG_SCALE)
        log_scale += tf.math.log(temperature)
        tiny = np.finfo(params.dtype.as_numpy_dtype).tiny
        uniform = tf.random.stateless_uniform(
            tf.shape(mean), noise_seed, minval=tiny, maxval=1.0, dtype=params.dtype
        )
        x = mean + tf.exp(log_scale) * (tf.math.log(uniform) - tf.math.log1p(-uniform))
        # Rounding (x + 1) * 127.5 picks the bin [x_v - 1/255, x_v + 1/255) around x_v = v/127.5-1;
        # clipping gives the end bins their tails.
        return tf.cast(tf.clip_by_value(tf.round((x + 1.0) * 127.5), 0.0, 255.0), tf.int32)

    def _call_log_prob(self, value, name, **kwargs):
        # Check the dtype before TFP converts `value` with our integer dtype as a hint, which
        # silently truncates numpy float arrays (e.g. dequantised [-0.5, 0.5] pixels) to zeros.
        return super()._call_log_prob(self._check_integers(value, 'x', min_rank=3), name, **kwargs)

    def _call_prob(self, value, name, **kwargs):
        return super()._call_prob(self._check_integers(value, 'x', min_rank=3), name, **kwargs)

    def _log_prob(self, x, **conditioning_kwargs):
        x = self._check_integers(x, 'x', min_rank=3)
        conditioning = self._conditioning(**conditioning_kwargs)
        self._check_leading(x.shape[:-3], self._conditioning_batch_shape(conditioning)[0])
        params, leading = self._network_parameters(self.preprocess(x), conditioning)
        flat = tf.reshape(x, [-1, *self._image_shape])
        log_probs = tf.reduce_sum(self._sub_pixel_log_prob(params, flat), axis=[1, 2, 3])
        return tf.reshape(log_probs, leading)

    def _call_sample_n(self, sample_shape, seed, **kwargs):
        # The base class would force the result to rank len(sample_shape) + 3; with conditioning
        # of batch shape [B] the samples are [*sample_shape, B, H, W, C].
        sample_shape = tf.cast(tf.reshape(sample_shape, [-1]), tf.int32)
        samples = self._sample_n(tf.reduce_prod(sample_shape), seed=seed, **kwargs)
        return tf.reshape(samples, tf.concat([sample_shape, tf.shape(samples)[1:]], axis=0))

    def _sample_n(self, n, seed=None, temperature=1.0, **conditioning_kwargs):
        temperature = self._check_temperature(temperature)
        conditioning = self._conditioning(**conditioning_kwargs)
        if isinstance(seed, int | np.integer):
            # Unlike TFP's stateful int seeds, an int seed here is reproducible: sample(n, seed=3)
            # gives the same images every time.
            seed = [int(seed), 0]
        seed = tfp.random.sanitize_seed(seed, salt='PixelCNN')
        samples = self._autoregressive_sample(
            tf.convert_to_tensor(n, tf.int32), seed, conditioning, temperature
        )
        return tf.cast(samples, self.dtype)

    def _check_temperature(self, temperature) -> tf.Tensor:
        """`temperature` as a scalar tensor of the weights' dtype; a static value must be > 0."""
        if isinstance(temperature, int | float | np.integer | np.floating):
            if not np.isfinite(temperature) or temperature <= 0:
                raise ValueError(f'temperature must be a finite number > 0; got {temperature}.')
        return tf.convert_to_tensor(temperature, self._float_dtype)

    @tf.function(reduce_retracing=True)
    def _autoregressive_sample(self, count, seed, conditioning, temperature):
        """`[count, *Bc, H, W, C]` int32 samples; the whole pixel loop is this one graph."""
        batch_shape = self._conditioning_batch_shape(conditioning)[1]
        leading = tf.concat([[count], batch_shape], axis=0)
        height, width, channels = self._image_shape

        def draw(params, row, col, channel):
            step = (row * width + col) * channels + channel
            value = self._draw(
                params, tf.random.experimental.stateless_fold_in(seed, step), temperature
            )
            return value, self.preprocess(value)

        values = self.network.autoregress(
            tf.reduce_prod(leading),
            draw,
            label=self._flat_label(conditioning, leading),
            conditioner=self._conditioner(conditioning, leading),
        )
        return tf.reshape(values, tf.concat([leading, self._image_shape], axis=0))
