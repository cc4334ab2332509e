"""A location-dependent conditioning map from a support set (Conditional PixelCNN's spatial `h`)."""

import tensorflow as tf

from tfp_flows import _seeds, _validation
from tfp_flows.networks.masked_conv import MaskedConv1x1
from tfp_flows.networks.support_encoder import SupportEncoder, slot_mask

__all__ = ['SupportMap']


class SupportMap(tf.Module):
    """Per-layer biases at every pixel from the masked mean of a support set's feature maps.

    ```none
    e_k    = SupportEncoder([s_k, p])                     # [H, W, width] per support image k
    m      = sum_k mask_k e_k / max(1, sum_k mask_k)      # [B, H, W, width]: the set's map
    bias_l = P_l(m)                                       # [B, H, W, 2 * hidden], per layer l
    ```

    Every target pixel `(r, c)` reads the set's map at `(r, c)`: for roughly aligned images
    (Omniglot's centred characters) where the support has ink says much about where the target
    has ink, with no attention to learn first. The convolutions see the whole support image (the
    support is not the target, so no causal mask); the mean over the valid slots makes the map
    invariant to their order and blind to padded slots; a set with no valid slot gives a zero map
    and so, as the projections have no bias term, zero biases: the unconditional model. The map
    does not depend on the target, so adding it to any gate pre-activation keeps a PixelCNN's
    autoregressive order.

    Args:
      image_shape: `(H, W, C)`.
      hidden_width: channels of the PixelCNN's gated layers (each bias is `2 * hidden_width`).
      num_biases: layers that get a bias, >= 1.
      width: channels of the map. Default value: 32.
      num_layers: 3x3 convolutions of the encoder (receptive field `2 num_layers + 1`). Default: 3.
      num_frequencies: `F` of the positional channels fed to the encoder. Default value: 4.
      seed: int, `np.random.SeedSequence` or None, for the initial weights.
      dtype: variable dtype. Default value: `tf.float32`.
      name: Default value: `'support_map'`.
    """

    def __init__(
        self,
        image_shape,
        hidden_width: int,
        num_biases: int,
        width: int = 32,
        num_layers: int = 3,
        num_frequencies: int = 4,
        seed=None,
        dtype: tf.DType = tf.float32,
        name: str = 'support_map',
    ):
        super().__init__(name=name)
        self.hidden_width = _validation.integer(hidden_width, 'hidden_width', 1)
        self.num_biases = _validation.integer(num_biases, 'the support map num_biases', 1)
        encoder_seed, projection_seed = _seeds.spawn(seed, 2)
        with self.name_scope:
            self.encoder = SupportEncoder(
                image_shape,
                width,
                num_layers,
                num_frequencies=num_frequencies,
                seed=encoder_seed,
                dtype=dtype,
                name='encoder',
            )
            # One product for every layer's projection; no bias, so a zero map adds nothing.
            self.projection = MaskedConv1x1(
                width,
                self.num_biases * 2 * self.hidden_width,
                use_bias=False,
                seed=projection_seed,
                dtype=dtype,
                name='projection',
            )

    def __call__(self, support: tf.Tensor, support_mask=None) -> list[tf.Tensor]:
        """`num_biases` biases `[B, H, W, 2 * hidden_width]`, for layers in order.

        Args:
          support: float `[B, K, H, W, C]`, preprocessed pixels.
          support_mask: optional bool `[B, K]`, True for real images, False for padding.
        """
        features = self.encoder(support, support_mask)[0]  # [B, K, H, W, width]
        if support_mask is None:
            mean = tf.reduce_mean(features, axis=1)
        else:
            # tf.where, not a product: a padded slot's features (a blank image's) must not count.
            valid = slot_mask(support_mask, 5)
            total = tf.reduce_sum(tf.where(valid, features, tf.zeros_like(features)), axis=1)
            count = tf.reduce_sum(tf.cast(support_mask, features.dtype), axis=1)
            mean = total / tf.maximum(count, 1.0)[:, None, None, None]
        return tf.split(self.projection(mean), self.num_biases, axis=-1)
