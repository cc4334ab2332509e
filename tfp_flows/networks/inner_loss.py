"""A learned inner-loop loss `g`: a small convolutional network from image features to a scalar."""

import tensorflow as tf

from tfp_flows import _seeds, _validation
from tfp_flows.networks.conv import HeConv2D
from tfp_flows.networks.masked_conv import MaskedConv1x1

__all__ = ['InnerLoss']


class InnerLoss(tf.Module):
    """`g(q, x)`: features `q [N, H, W, F]` of images `x [N, H, W, C]` -> one scalar per image.

    ```none
    a_0 = [q, x]                                  # [N, H, W, F + C]
    a_i = elu(Conv3x3_i(a_{i-1}))                 # i = 1 .. num_layers, width channels
    g   = w . mean_{r, c} a_L                     # [N]
    ```

    The inner loss of `tfp_flows.MetaPixelCNN`: gradient steps on `g` adapt the model to a
    support set, and only `g`'s gradient matters, so `g` has no output bias (a constant would
    change nothing). ELU, not ReLU: the outer loss is differentiated through `dg/dq`, and a
    ReLU's derivative is piecewise constant, so it would pass no curvature back. The image is
    an input beside the features because a PixelCNN's features at a pixel have not seen that
    pixel: with both, `g` can express how well the features predict the image (a likelihood).

    Args:
      feature_channels: `F`.
      image_channels: `C`.
      width: channels of the convolutions. Default value: 32.
      num_layers: 3x3 convolutions, >= 1. Default value: 2.
      seed: int, `np.random.SeedSequence` or None, for the initial weights.
      dtype: variable dtype. Default value: `tf.float32`.
      name: Default value: `'inner_loss'`.
    """

    def __init__(
        self,
        feature_channels: int,
        image_channels: int,
        width: int = 32,
        num_layers: int = 2,
        seed=None,
        dtype: tf.DType = tf.float32,
        name: str = 'inner_loss',
    ):
        super().__init__(name=name)
        _validation.integer(width, 'the inner loss width', 1)
        _validation.integer(num_layers, 'the inner loss num_layers', 1)
        seeds = _seeds.spawn(seed, num_layers + 1)
        in_widths = [feature_channels + image_channels] + [width] * (num_layers - 1)
        with self.name_scope:
            self.convs = [
                HeConv2D(in_width, width, 3, seed=conv_seed, dtype=dtype, name=f'conv_{index}')
                for index, (in_width, conv_seed) in enumerate(zip(in_widths, seeds))
            ]
            self.out = MaskedConv1x1(
                width, 1, use_bias=False, seed=seeds[-1], dtype=dtype, name='out'
            )

    def __call__(self, features: tf.Tensor, images: tf.Tensor) -> tf.Tensor:
        """`[N]`: the loss of each image, from `features [N, H, W, F]` and `images [N, H, W, C]`."""
        activations = tf.concat([features, tf.cast(images, features.dtype)], axis=-1)
        for conv in self.convs:
            activations = tf.nn.elu(conv(activations))
        return self.out(tf.reduce_mean(activations, axis=[1, 2]))[:, 0]
