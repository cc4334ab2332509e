"""Per-image convolutional features of a support set: the encoder of both few-shot families.

`tfp_flows.AttentionPixelCNN` attends over these features at every support position;
`tfp_flows.FewShotGlow` pools them over the set into one context per Glow level (`SetEncoder`).
"""

import tensorflow as tf

from tfp_flows import _seeds, _validation
from tfp_flows.networks.attention import positional_channels
from tfp_flows.networks.conv import HeConv2D

__all__ = ['SupportEncoder', 'slot_mask']


def slot_mask(mask: tf.Tensor, rank: int) -> tf.Tensor:
    """`[B, K]` -> `[B, K, 1, ..., 1]` broadcastable against a `rank`-dimensional tensor."""
    return tf.reshape(mask, tf.concat([tf.shape(mask), tf.ones([rank - 2], tf.int32)], axis=0))


class SupportEncoder(tf.Module):
    """Encodes each image of a support set `[B, K, H, W, C]` into feature maps at several scales.

    ```none
    e_0 = [s, p]                                      # s: [H, W, C]; p: positional_channels
    e_0 = relu(Conv3x3(e_0))                          # num_layers times, at H x W
    e_l = relu(Conv3x3(space_to_depth(e_{l-1}, 2)))   # l = 1 .. num_downsamples, at H/2^l
    features = [e_0, e_1, ..., e_D]                   # each [B, K, H/2^l, W/2^l, width]
    ```

    The images are encoded independently (K is folded into the batch), so every feature map is
    equivariant to the order of the set; the two few-shot families differ only in how they read
    the set (attention at each support position, or pooling over the set). Positional channels
    (`num_frequencies > 0`) let the convolutions localise content for a reader that matches
    positions.

    Masking: `support_mask` `[B, K]` (bool, True = real image) marks padded slots, whose images
    are replaced by zeros before the convolutions: whatever they held (even NaN) reaches neither
    the features of the real slots nor any gradient. Padded slots still cost a pass through the
    convolutions, and their features are those of a blank image: readers must mask them.

    Args:
      image_shape: `(H, W, C)`; H and W divisible by `2**num_downsamples`.
      width: channels of every convolution's output. Default value: 32.
      num_layers: 3x3 convolutions at full resolution, >= 1. Default value: 2.
      num_downsamples: halvings of the resolution, each a space-to-depth and a 3x3 convolution.
        Default value: 0.
      num_frequencies: `F` of `positional_channels` (`4 F` channels), or 0 for none. Default: 0.
      seed: int, `np.random.SeedSequence` (one child per convolution), `np.random.Generator`
        (each convolution draws from it in turn) or None, for the initial weights.
      dtype: variable dtype. Default value: `tf.float32`.
      name: Default value: `'support_encoder'`.
    """

    def __init__(
        self,
        image_shape,
        width: int = 32,
        num_layers: int = 2,
        num_downsamples: int = 0,
        num_frequencies: int = 0,
        seed=None,
        dtype: tf.DType = tf.float32,
        name: str = 'support_encoder',
    ):
        super().__init__(name=name)
        height, image_width, channels = self.image_shape = _validation.image_shape(image_shape)
        self.width = _validation.integer(width, 'the support encoder width', 1)
        _validation.integer(num_layers, 'the support encoder num_layers', 1)
        _validation.integer(num_downsamples, 'num_downsamples', 0)
        _validation.integer(num_frequencies, 'num_frequencies', 0)
        factor = 2**num_downsamples
        if height % factor or image_width % factor:
            raise ValueError(
                f'image height and width must be divisible by 2**{num_downsamples} = {factor}; '
                f'got image_shape {self.image_shape}.'
            )
        self.dtype = tf.as_dtype(dtype)
        self.positional = (
            positional_channels(height, image_width, num_frequencies, self.dtype)
            if num_frequencies
            else None
        )
        self.positional_width = 4 * num_frequencies
        seeds = _seeds.spawn(seed, num_layers + num_downsamples)
        with self.name_scope:
            self.convs = [
                HeConv2D(
                    channels + self.positional_width if index == 0 else width,
                    width,
                    seed=seeds[index],
                    dtype=self.dtype,
                    name=f'conv_{index}',
                )
                for index in range(num_layers)
            ]
            self.downsamples = [
                HeConv2D(
                    4 * width,
                    width,
                    seed=seeds[num_layers + level],
                    dtype=self.dtype,
                    name=f'downsample_{level}',
                )
                for level in range(num_downsamples)
            ]

    @property
    def resolutions(self) -> tuple[tuple[int, int], ...]:
        """`(h, w)` of each scale of the features, full resolution first."""
        height, width, _ = self.image_shape
        return tuple(
            (height // 2**scale, width // 2**scale) for scale in range(len(self.downsamples) + 1)
        )

    def __call__(self, support, support_mask=None) -> list[tf.Tensor]:
        """Features of every support image, `[B, K, h, w, width]` per scale, full resolution first.

        Args:
          support: float `[B, K, H, W, C]`, pixels preprocessed like the images the model reads
            (e.g. `tfp_flows.dequantization.preprocess`).
          support_mask: optional bool `[B, K]`, True for real images, False for padding.
        """
        support, mask = self.check_inputs(support, support_mask)
        shape = tf.shape(support)
        batch, size = shape[0], shape[1]
        # Padded images become zeros, so that whatever they held cannot reach a gradient.
        support = tf.where(slot_mask(mask, 5), support, tf.zeros_like(support))
        e = tf.reshape(support, [-1, *self.image_shape])
        if self.positional is not None:
            positional = tf.broadcast_to(
                self.positional, tf.concat([tf.shape(e)[:1], tf.shape(self.positional)], 0)
            )
            e = tf.concat([e, positional], axis=-1)
        for conv in self.convs:
            e = tf.nn.relu(conv(e))
        scales = [e]
        for conv in self.downsamples:
            scales.append(tf.nn.relu(conv(tf.nn.space_to_depth(scales[-1], 2))))
        return [
            tf.reshape(features, [batch, size, height, width, self.width])
            for features, (height, width) in zip(scales, self.resolutions)
        ]

    def check_inputs(self, support, support_mask=None) -> tuple[tf.Tensor, tf.Tensor]:
        """`support` in the encoder's dtype and its mask (all True if None), or a ValueError."""
        support = tf.convert_to_tensor(support)
        if not support.dtype.is_floating:
            raise ValueError(
                f'support must be a float tensor of preprocessed pixels; got dtype '
                f'{support.dtype.name} (convert uint8 images with '
                'tfp_flows.dequantization.preprocess).'
            )
        support = tf.cast(support, self.dtype)
        if support.shape.rank != 5:
            raise ValueError(
                f'support must have shape [B, K, H, W, C] (a batch of sets of images); got shape '
                f'{support.shape}.'
            )
        if not support.shape[2:].is_compatible_with(self.image_shape):
            raise ValueError(
                f'support images must have shape {self.image_shape}; got support of shape '
                f'{support.shape}.'
            )
        if support.shape[1] == 0:
            raise ValueError(
                'support holds no images (K = 0); for the empty set pass an all-False '
                'support_mask (or support=None to a FewShotGlow).'
            )
        if support_mask is None:
            return support, tf.ones(tf.shape(support)[:2], tf.bool)
        mask = tf.convert_to_tensor(support_mask)
        if mask.dtype != tf.bool:
            raise ValueError(f'support_mask must be a bool tensor; got dtype {mask.dtype.name}.')
        if mask.shape.rank != 2 or not mask.shape.is_compatible_with(support.shape[:2]):
            raise ValueError(
                f'support_mask must have shape [B, K] = {support.shape[:2]} to match support of '
                f'shape {support.shape}; got {mask.shape}.'
            )
        return support, mask
