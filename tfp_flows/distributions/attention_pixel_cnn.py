"""The few-shot Attention PixelCNN (Reed et al., 2018): a PixelCNN conditioned on a support set."""

import tensorflow as tf

from tfp_flows import _seeds, _validation
from tfp_flows.distributions.pixel_cnn import PixelCNN
from tfp_flows.networks.attention import SupportAttention, support_memory
from tfp_flows.networks.support_encoder import SupportEncoder
from tfp_flows.networks.support_map import SupportMap

__all__ = ['AttentionPixelCNN']


class AttentionPixelCNN(PixelCNN):
    """A gated PixelCNN whose layers attend over a support set of images of the same class.

    ```none
    features = support_memory(SupportEncoder([support_k, p]), p)     # [B, K*M, E], once per set
    at each layer l in attention_layers, at every target pixel (r, c):
      q = Q(h_l[r, c]) + Q_pos(p(r, c)),  k, v = K_l(features), V_l(features)
      h_pre_l[r, c] += O(multi-head softmax(q . k / sqrt(d)) v)     # over valid support positions
    with map_width > 0, at every layer l >= 1:
      h_pre_l[r, c] += SupportMap(support, mask)_l[r, c]     # masked mean of per-image feature maps
    p(x | support) = prod_{r, c, k} p(x[r, c, k] | earlier sub-pixels, support)
    ```

    Everything else is `tfp_flows.PixelCNN` (outputs, value conventions, class conditioning,
    batch semantics, fast sampling: the support is encoded once and each pixel queries it).

    Conditioning kwargs on `log_prob` and `sample`: `support`, integer `[B, K, H, W, C]` with the
    same value range as `x`, required; `support_mask`, bool (or 0/1) `[B, K]`, optional, False for
    padded slots, which then cannot affect the result; a set with no valid slot reads zeros from
    every attention layer and the support map (the model falls back to an unconditional
    PixelCNN); `label`, int `[B]` or `[]`, if `num_classes > 0`. `K` may differ between calls,
    also inside one `tf.function` traced with `[None, None, H, W, C]`. `log_prob(x, support=s)`
    takes `x [..., B, H, W, C]`; `sample(n, support=s)` returns `[n, B, H, W, C]`: `n` samples for
    each of the `B` sets.

    Cost: with `M = H W / support_pool^2` support positions per image, attention in `log_prob` is
    `O(B * heads * H W * M * K)` in time and memory per attention layer; in `sample`,
    `O(heads * M * K)` per generated pixel.

    Args:
      image_shape: `(H, W, C)`.
      output: `'categorical'` | `'logistic_mixture'` | `'bernoulli'`. Default: `'categorical'`.
      num_layers: gated layers, >= 2. Default value: 12.
      hidden_width: channels of the vertical and horizontal stacks. Default value: 64.
      attention_layers: indices (in `1 .. num_layers - 1`) of the layers that attend. Default:
        every third layer counting back from the last (`(2, 5, 8, 11)` for 12 layers).
      num_heads: attention heads, >= C. Default value: 4.
      key_width: channels per head of queries and keys. Default value: 16.
      value_width: channels per head of values. Default value: 16.
      encoder_width: channels of the support encoder's convolutions. Default value: 32.
      encoder_layers: 3x3 convolutions of the support encoder. Default value: 2.
      num_frequencies: frequencies of the positional channels (4 per frequency). Default: 4.
      support_pool: side of the average-pooling window over the encoded support (must divide H
        and W): 2 gives a key per 2x2 patch and a quarter of the attention cost. Default: 1.
      map_width: channels of a location-dependent support map (`tfp_flows.networks.SupportMap`,
        Conditional PixelCNN's spatial `h`) added as a bias to every gated layer >= 1 at the same
        pixel; 0 for none. With a map, `attention_layers` may be `()` (the map alone). Default: 0.
      map_layers: 3x3 convolutions of the support map's encoder. Default value: 3.
      kernel_size, first_kernel_size, head_width, num_classes, num_mixtures, image_dtype,
        validate_args, dtype: as in `tfp_flows.PixelCNN`, with the same defaults.
      seed: int, `np.random.SeedSequence` or None, for the initial weights. Default value: None.
      name: Default value: `'AttentionPixelCNN'`.

    #### Examples

    ```python
    model = tfp_flows.AttentionPixelCNN(image_shape=(28, 28, 1), output='bernoulli')
    nats = model.log_prob(targets, support=support)               # [B]; support [B, K, 28, 28, 1]
    nats = model.log_prob(targets, support=padded, support_mask=valid)   # valid: bool [B, K_max]
    samples = model.sample(4, support=support, seed=0)             # [4, B, 28, 28, 1]
    ```

    #### References

    [1]: Scott Reed, Yutian Chen, Thomas Paine, Aaron van den Oord, S. M. Ali Eslami, Danilo
         Rezende, Oriol Vinyals, Nando de Freitas. Few-shot Autoregressive Density Estimation:
         Towards Learning to Learn Distributions. In ICLR, 2018. https://arxiv.org/abs/1710.10304

    [2]: Aaron van den Oord et al. Conditional Image Generation with PixelCNN Decoders. In
         NeurIPS, 2016. https://arxiv.org/abs/1606.05328
    """

    def __init__(
        self,
        image_shape,
        output: str = 'categorical',
        num_layers: int = 12,
        hidden_width: int = 64,
        attention_layers=None,
        num_heads: int = 4,
        key_width: int = 16,
        value_width: int = 16,
        encoder_width: int = 32,
        encoder_layers: int = 2,
        num_frequencies: int = 4,
        support_pool: int = 1,
        map_width: int = 0,
        map_layers: int = 3,
        kernel_size: int = 3,
        first_kernel_size: int = 7,
        head_width: int | None = None,
        num_classes: int = 0,
        num_mixtures: int = 10,
        seed=None,
        image_dtype: tf.DType = tf.int32,
        validate_args: bool = False,
        dtype: tf.DType = tf.float32,
        name: str = 'AttentionPixelCNN',
    ):
        parameters = dict(locals())
        _validation.integer(
            num_layers,
            'num_layers',
            2,
            bounds='>= 2 (layer 0 reads the image itself and cannot attend)',
        )
        if attention_layers is None:
            attention_layers = tuple(range(num_layers - 1, 0, -3))[::-1]
        attention_layers = tuple(attention_layers)
        _validation.integer(map_width, 'map_width', 0, bounds='>= 0 (0: no support map)')
        if (
            (not attention_layers and not map_width)
            or len(set(attention_layers)) != len(attention_layers)
            or not all(_validation.is_integer(i, 1, num_layers - 1) for i in attention_layers)
        ):
            raise ValueError(
                f'attention_layers must be distinct integers in [1, {num_layers}) (layer 0 reads '
                f'the image itself), and not empty without a support map; got {attention_layers}.'
            )
        height, width, channels = _validation.image_shape(image_shape)
        # The keys match positions through these channels: the attention needs at least one.
        _validation.integer(num_frequencies, 'num_frequencies', 1)
        if (
            not _validation.is_integer(support_pool, 1)
            or height % support_pool
            or width % support_pool
        ):
            raise ValueError(
                f'the support pooling window must be an integer >= 1 dividing H={height} and '
                f'W={width}; got {support_pool}.'
            )
        if num_heads < channels:
            raise ValueError(
                f'num_heads must be >= C={channels}, so that every sub-pixel has a head; got '
                f'{num_heads}.'
            )
        # A fourth child seed leaves the first three, so models without a map keep their weights.
        network_seed, encoder_seed, attention_seed, map_seed = _seeds.spawn(seed, 4)
        super().__init__(
            image_shape,
            output=output,
            num_layers=num_layers,
            hidden_width=hidden_width,
            kernel_size=kernel_size,
            first_kernel_size=first_kernel_size,
            head_width=head_width,
            num_classes=num_classes,
            num_mixtures=num_mixtures,
            seed=network_seed,
            image_dtype=image_dtype,
            validate_args=validate_args,
            dtype=dtype,
            name=name,
        )
        with tf.name_scope(self.name):
            # Without attention layers (a support map alone) there are no keys to encode.
            self.encoder = (
                SupportEncoder(
                    self.image_shape,
                    encoder_width,
                    encoder_layers,
                    num_frequencies=num_frequencies,
                    seed=encoder_seed,
                    dtype=self._float_dtype,
                    name='support_encoder',
                )
                if attention_layers
                else None
            )
            self._support_pool = support_pool
            self._attention_layers = attention_layers
            self.attention = [
                SupportAttention(
                    hidden_width,
                    encoder_width + 4 * num_frequencies,
                    4 * num_frequencies,
                    self.image_shape[-1],
                    num_heads,
                    key_width,
                    value_width,
                    seed=layer_seed,
                    dtype=self._float_dtype,
                    name=f'attention_{index}',
                )
                for index, layer_seed in zip(
                    attention_layers, _seeds.spawn(attention_seed, len(attention_layers))
                )
            ]
            # Layers 1 .. num_layers - 1 get a bias each (layer 0 reads the image itself).
            self.support_map = (
                SupportMap(
                    self.image_shape,
                    hidden_width,
                    num_layers - 1,
                    map_width,
                    map_layers,
                    num_frequencies,
                    seed=map_seed,
                    dtype=self._float_dtype,
                    name='support_map',
                )
                if map_width
                else None
            )
        self._parameters = self._no_dependency(parameters)

    @property
    def attention_layers(self) -> tuple[int, ...]:
        return self._attention_layers

    @property
    def support_positions_per_image(self) -> int:
        """`M = (H / support_pool) * (W / support_pool)`, the keys of each support image."""
        height, width, _ = self.image_shape
        return height * width // self._support_pool**2

    def _conditioning(self, label=None, support=None, support_mask=None) -> dict:
        if support is None:
            if support_mask is not None:
                raise ValueError('got a support_mask without a support set.')
            raise ValueError(
                f'{self.name} needs support=[B, K, H, W, C] (the support set of each target).'
            )
        support, support_mask = self._check_support(
            support,
            support_mask,
            'for an empty set pass one slot with support_mask=False (it then reads zeros from '
            'every attention layer)',
        )
        label = self._check_label(label)
        if label is not None and label.shape.rank == 1:
            if not label.shape.is_compatible_with(support.shape[:1]):
                raise ValueError(
                    f'label {label.shape} and support {support.shape} must have the same batch '
                    'size B.'
                )
        return {'label': label, 'support': support, 'support_mask': support_mask}

    def _conditioning_batch_shape(self, conditioning: dict):
        # The support has batch [B]; a scalar label broadcasts against it.
        support = conditioning['support']
        return support.shape[:1], tf.shape(support)[:1]

    def _conditioner(self, conditioning: dict, leading: tf.Tensor):
        # The targets are [*S, B] flattened, sample-major: target s * B + b uses set b, which is
        # how SupportAttention batches queries; the support is encoded once per set.
        del leading
        support = self.preprocess(conditioning['support'])
        support_mask = conditioning['support_mask']
        reads, key_mask, biases = {}, None, None
        if self.encoder is not None:
            features = self.encoder(support, support_mask)[0]
            memory = support_memory(features, self.encoder.positional, self._support_pool)
            if support_mask is not None:
                # Slot k covers positions k*M .. (k+1)*M - 1 of the flattened support.
                key_mask = tf.repeat(support_mask, self.support_positions_per_image, axis=1)
            reads = {
                index: (attention, *attention.keys_and_values(memory))
                for index, attention in zip(self._attention_layers, self.attention)
            }
        if self.support_map is not None:
            biases = self.support_map(support, support_mask)

        def conditioner(index, h, rows, cols):
            terms = []
            if index in reads:
                attention, keys, values = reads[index]
                positional = self.encoder.positional
                position = tf.gather(tf.gather(positional, rows, axis=0), cols, axis=1)
                terms.append(attention(h, position, keys, values, key_mask))
            if biases is not None:
                bias = tf.gather(tf.gather(biases[index - 1], rows, axis=1), cols, axis=2)
                # h is [S * B, ...], sample-major: target s * B + b reads set b's map.
                repeats = tf.shape(h)[0] // tf.shape(bias)[0]
                terms.append(tf.tile(bias, [repeats, 1, 1, 1]))
            return tf.add_n(terms) if terms else None

        return conditioner
