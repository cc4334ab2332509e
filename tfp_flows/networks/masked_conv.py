"""Causal convolutions for gated PixelCNN stacks, as plain tf.Modules.

A PixelCNN orders the sub-pixels of an image `[H, W, C]` row by row, pixel by pixel, and channel
by channel inside a pixel (R before G before B). Every feature map of the network keeps this order:

```none
vertical stack   at (r, c): reads rows above r only                 (VerticalConv, shift_down)
horizontal stack at (r, c): reads columns c - k//2 .. c of row r     (HorizontalConv)
feature group g  at (r, c): reads sub-pixels < g of pixel (r, c) ('A') or <= g ('B')
```

Features are split into `C` contiguous channel groups (`channel_groups`), group `g` belonging to
sub-pixel `g`; `sub_pixel_mask` restricts the taps that read the current pixel. Each layer also
exposes the one-row (`VerticalConv.row`) or one-pixel (`HorizontalConv.pixel`) computation that
sampling needs, with the same weights.
"""

import numpy as np
import tensorflow as tf

from tfp_flows import _seeds, _validation

__all__ = [
    'HorizontalConv',
    'MaskedConv1x1',
    'VerticalConv',
    'channel_groups',
    'gated_groups',
    'sub_pixel_mask',
]

MASK_TYPES = ('A', 'B')


def channel_groups(num_features: int, num_sub_pixels: int) -> np.ndarray:
    """The sub-pixel group of each of `num_features` channels: contiguous, near-equal blocks.

    ```none
    group(f) = floor(f * C / num_features),   f = 0 .. num_features - 1
    ```

    With `num_features = C * P` this puts the `P` output parameters of sub-pixel `c` in block `c`.
    """
    if num_features < num_sub_pixels:
        raise ValueError(
            f'need at least one channel per sub-pixel: {num_features} channels for '
            f'{num_sub_pixels} sub-pixels.'
        )
    return np.arange(num_features) * num_sub_pixels // num_features


def gated_groups(width: int, num_sub_pixels: int) -> np.ndarray:
    """Groups of a gate pre-activation `[..., 2 * width]` laid out as `[tanh half, sigmoid half]`.

    Both halves use `channel_groups(width, C)`, so `tanh(a) * sigmoid(b)` multiplies channels of
    the same group and the gated output keeps the layout of `channel_groups(width, C)`.
    """
    groups = channel_groups(width, num_sub_pixels)
    return np.concatenate([groups, groups])


def sub_pixel_mask(in_groups: np.ndarray, out_groups: np.ndarray, mask_type: str) -> np.ndarray:
    """`[in, out]` 0/1 matrix: output group `g` may read input groups `< g` ('A') or `<= g` ('B').

    Type 'A' is for the first layer, whose input is the image itself (a sub-pixel must not see
    its own value); type 'B' for every later map, whose group-`g` input already excludes it.
    """
    if mask_type not in MASK_TYPES:
        raise ValueError(f'mask_type must be one of {MASK_TYPES}; got {mask_type!r}.')
    in_groups = np.asarray(in_groups)[:, None]
    out_groups = np.asarray(out_groups)[None, :]
    allowed = in_groups < out_groups if mask_type == 'A' else in_groups <= out_groups
    return allowed.astype(np.float32)


def _check_kernel_size(kernel_size: int) -> None:
    if not _validation.is_integer(kernel_size, 3) or kernel_size % 2 == 0:
        raise ValueError(f'kernel sizes must be odd integers >= 3; got {kernel_size}.')


def _initial_kernel(shape, fan_in: int, seed, dtype: tf.DType) -> np.ndarray:
    # N(0, 1/fan_in) keeps the pre-activations of the tanh * sigmoid gates near unit scale.
    values = _seeds.rng(seed).normal(0.0, 1.0 / np.sqrt(fan_in), size=shape)
    return values.astype(dtype.as_numpy_dtype)


class VerticalConv(tf.Module):
    """The vertical stack's convolution: a `[k//2 + 1, k]` kernel over the rows above.

    ```none
    out[r, c] = bias + sum_{dr = 0..k//2, dc = -k//2..k//2} x[r - dr - s, c + dc] . K[k//2 - dr, dc]
    s = 1 with shift_down (the first layer, reading the image: rows < r only), else 0
    ```

    Rows above the image are zeros. No mask: the vertical stack never reads its own row of the
    image (the first layer is shifted down, later layers read features that are).

    Args:
      in_channels: channels of the input `[N, H, W, in_channels]`.
      out_channels: channels of the output.
      kernel_size: odd `k >= 3`.
      shift_down: read rows `< r` instead of `<= r`. Default value: `False`.
      seed: int, `np.random.SeedSequence` or None, for the initial kernel.
      dtype: variable dtype. Default value: `tf.float32`.
      name: module name.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        shift_down: bool = False,
        seed=None,
        dtype: tf.DType = tf.float32,
        name: str = 'vertical_conv',
    ):
        super().__init__(name=name)
        _check_kernel_size(kernel_size)
        self.window_height = kernel_size // 2 + 1
        self.padding = kernel_size // 2
        self.shift_down = bool(shift_down)
        shape = (self.window_height, kernel_size, in_channels, out_channels)
        fan_in = self.window_height * kernel_size * in_channels
        with self.name_scope:
            self.kernel = tf.Variable(_initial_kernel(shape, fan_in, seed, dtype), name='kernel')
            self.bias = tf.Variable(tf.zeros([out_channels], dtype), name='bias')

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        """`[N, H, W, in] -> [N, H, W, out]`."""
        top = self.window_height if self.shift_down else self.window_height - 1
        padded = tf.pad(x, [[0, 0], [top, 0], [self.padding, self.padding], [0, 0]])
        if self.shift_down:
            padded = padded[:, :-1]
        return tf.nn.conv2d(padded, self.kernel, strides=1, padding='VALID') + self.bias

    def row(self, window: tf.Tensor) -> tf.Tensor:
        """One output row from the `window_height` input rows it reads, oldest first.

        `window` is `[N, window_height, W + 2 * padding, in]` (columns already zero-padded); the
        result `[N, W, out]` equals that row of `__call__`.
        """
        return tf.nn.conv2d(window, self.kernel, strides=1, padding='VALID')[:, 0] + self.bias


class HorizontalConv(tf.Module):
    """The horizontal stack's convolution: a `[1, k//2 + 1]` kernel over the current row.

    ```none
    out[r, c] = bias + sum_{dc=0..k//2} x[r, c - dc] . (K[k//2 - dc] * M[dc])
    M[dc] = 1 for dc > 0 (pixels to the left);  M[0] = sub_pixel_mask(in_groups, out_groups, type)
    ```

    Args:
      in_channels: channels of the input.
      out_channels: channels of the output.
      kernel_size: odd `k >= 3`.
      in_groups: sub-pixel group of each input channel (`channel_groups`).
      out_groups: sub-pixel group of each output channel.
      mask_type: `'A'` (the image itself is the input) or `'B'`.
      seed: int, `np.random.SeedSequence` or None, for the initial kernel.
      dtype: variable dtype. Default value: `tf.float32`.
      name: module name.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        in_groups: np.ndarray,
        out_groups: np.ndarray,
        mask_type: str,
        seed=None,
        dtype: tf.DType = tf.float32,
        name: str = 'horizontal_conv',
    ):
        super().__init__(name=name)
        _check_kernel_size(kernel_size)
        self.window_width = kernel_size // 2 + 1
        mask = np.ones([1, self.window_width, in_channels, out_channels], np.float32)
        mask[0, -1] = sub_pixel_mask(in_groups, out_groups, mask_type)
        self._mask = tf.constant(mask, dtype)
        shape = (1, self.window_width, in_channels, out_channels)
        fan_in = self.window_width * in_channels
        with self.name_scope:
            self.kernel = tf.Variable(_initial_kernel(shape, fan_in, seed, dtype), name='kernel')
            self.bias = tf.Variable(tf.zeros([out_channels], dtype), name='bias')

    def masked_kernel(self) -> tf.Tensor:
        return self.kernel * self._mask

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        """`[N, H, W, in] -> [N, H, W, out]`."""
        padded = tf.pad(x, [[0, 0], [0, 0], [self.window_width - 1, 0], [0, 0]])
        return tf.nn.conv2d(padded, self.masked_kernel(), strides=1, padding='VALID') + self.bias

    def pixel(self, window: tf.Tensor) -> tf.Tensor:
        """One output pixel from its input window `[N, window_width, in]` (current pixel last).

        Equals `__call__` at that pixel, as one matrix product instead of a convolution.
        """
        kernel = self.masked_kernel()
        flat_kernel = tf.reshape(kernel, [-1, kernel.shape[-1]])
        flat_window = tf.reshape(window, [-1, flat_kernel.shape[0]])
        return tf.matmul(flat_window, flat_kernel) + self.bias


class MaskedConv1x1(tf.Module):
    """A 1x1 convolution (a dense map on the last axis), optionally sub-pixel masked.

    ```none
    out = x @ (K * M) + bias,   M = sub_pixel_mask(in_groups, out_groups, mask_type) or all ones
    ```

    Args:
      in_channels: channels of the input `[..., in_channels]`.
      out_channels: channels of the output.
      in_groups: sub-pixel group of each input channel; None for an unmasked map.
      out_groups: sub-pixel group of each output channel; None for an unmasked map.
      mask_type: `'A'` or `'B'`. Default value: `'B'`.
      use_bias: add a bias. Default value: `True`.
      zero_init: start with a zero kernel (an output layer that starts neutral). Default: `False`.
      seed: int, `np.random.SeedSequence` or None, for the initial kernel.
      dtype: variable dtype. Default value: `tf.float32`.
      name: module name.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        in_groups: np.ndarray | None = None,
        out_groups: np.ndarray | None = None,
        mask_type: str = 'B',
        use_bias: bool = True,
        zero_init: bool = False,
        seed=None,
        dtype: tf.DType = tf.float32,
        name: str = 'conv_1x1',
    ):
        super().__init__(name=name)
        if (in_groups is None) != (out_groups is None):
            raise ValueError('pass both in_groups and out_groups for a masked map, or neither.')
        self._mask = (
            None
            if in_groups is None
            else tf.constant(sub_pixel_mask(in_groups, out_groups, mask_type), dtype)
        )
        shape = (in_channels, out_channels)
        with self.name_scope:
            initial = (
                np.zeros(shape, dtype.as_numpy_dtype)
                if zero_init
                else _initial_kernel(shape, in_channels, seed, dtype)
            )
            self.kernel = tf.Variable(initial, name='kernel')
            self.bias = None
            if use_bias:
                self.bias = tf.Variable(tf.zeros([out_channels], dtype), name='bias')

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        """`[..., in] -> [..., out]`."""
        kernel = self.kernel if self._mask is None else self.kernel * self._mask
        # One matrix product over the flattened leading axes: the gradient of
        # einsum('...i,io->...o') materialises an [..., in, out] tensor (gigabytes at 28x28).
        out = tf.tensordot(x, kernel, axes=1)
        return out if self.bias is None else out + self.bias
