"""The gated PixelCNN network (van den Oord et al., 2016), shared by the PixelCNN distributions."""

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from tfp_flows import _seeds, _validation
from tfp_flows.networks.masked_conv import (
    HorizontalConv,
    MaskedConv1x1,
    VerticalConv,
    channel_groups,
    gated_groups,
)

__all__ = ['GatedLayer', 'GatedPixelCNN']

# conditioner(layer_index, features, rows, cols) -> None or a term [N, h, w, 2 * width] added to
# that layer's horizontal gate pre-activation; `features` [N, h, w, width] is the layer's
# horizontal input at rows x cols (int32 [h], [w]) of the image.
Conditioner = Callable[[int, tf.Tensor, tf.Tensor, tf.Tensor], tf.Tensor | None]

# draw(parameters [N, P], row, col, channel) -> (value int32 [N], network input [N]).
Draw = Callable[[tf.Tensor, tf.Tensor, tf.Tensor, int], tuple[tf.Tensor, tf.Tensor]]


def gate(pre_activation: tf.Tensor) -> tf.Tensor:
    """`tanh(a) * sigmoid(b)` for `pre_activation = [a, b]` on the last axis."""
    a, b = tf.split(pre_activation, 2, axis=-1)
    return tf.tanh(a) * tf.sigmoid(b)


class GatedLayer(tf.Module):
    """One gated layer: a vertical and a horizontal stack joined by a 1x1 link.

    ```none
    v_pre = VerticalConv(v) + class_v                   # rows above only
    h_pre = HorizontalConv(h) + Link(v_pre) + class_h + extra
    v'    = tanh(v_pre_a) * sigmoid(v_pre_b)
    h'    = Out(tanh(h_pre_a) * sigmoid(h_pre_b)) + h   # residual, except in the first layer
    ```

    The link carries the whole region above into the horizontal stack, which alone reads the
    current row: together they have no blind spot. Class terms (van den Oord et al.'s `V^T y`)
    start at zero.

    Args:
      in_channels: channels of both stack inputs (`C` for the first layer, else `width`).
      width: channels of both stack outputs.
      num_sub_pixels: `C`, for the sub-pixel masks.
      kernel_size: odd kernel size `k`.
      first: the first layer reads the image: shifted vertical conv, mask 'A', no residual.
      num_classes: classes for class-conditional gates, 0 for none.
      seed: int, `np.random.SeedSequence` or None, for the initial weights.
      dtype: variable dtype.
      name: module name.
    """

    def __init__(
        self,
        in_channels: int,
        width: int,
        num_sub_pixels: int,
        kernel_size: int,
        first: bool,
        num_classes: int = 0,
        seed=None,
        dtype: tf.DType = tf.float32,
        name: str = 'gated_layer',
    ):
        super().__init__(name=name)
        self.first = bool(first)
        self.width = int(width)
        in_groups = (
            np.arange(num_sub_pixels) if first else channel_groups(in_channels, num_sub_pixels)
        )
        pre_groups = gated_groups(width, num_sub_pixels)
        seeds = _seeds.spawn(seed, 4)
        with self.name_scope:
            self.vertical = VerticalConv(
                in_channels, 2 * width, kernel_size, first, seeds[0], dtype, 'vertical'
            )
            self.horizontal = HorizontalConv(
                in_channels,
                2 * width,
                kernel_size,
                in_groups,
                pre_groups,
                'A' if first else 'B',
                seeds[1],
                dtype,
                'horizontal',
            )
            # The vertical features never depend on the current row, so the link needs no mask.
            self.link = MaskedConv1x1(2 * width, 2 * width, seed=seeds[2], dtype=dtype, name='link')
            self.out = MaskedConv1x1(
                width,
                width,
                channel_groups(width, num_sub_pixels),
                channel_groups(width, num_sub_pixels),
                'B',
                seed=seeds[3],
                dtype=dtype,
                name='out',
            )
            self.class_embedding = (
                tf.Variable(tf.zeros([num_classes, 4 * width], dtype), name='class_embedding')
                if num_classes
                else None
            )

    def class_terms(self, label: tf.Tensor | None):
        """`(class_v, class_h)`, each `[N, 2 * width]`, or `(None, None)` if unconditional."""
        if self.class_embedding is None or label is None:
            return None, None
        terms = tf.gather(self.class_embedding, label)
        return terms[:, : 2 * self.width], terms[:, 2 * self.width :]

    def _horizontal_output(self, h_in, h_pre):
        h_out = self.out(gate(h_pre))
        return h_out if self.first else h_out + h_in

    def __call__(self, v, h, class_v=None, class_h=None, extra=None):
        """Both stacks over whole images: `[N, H, W, in]` each -> `[N, H, W, width]` each."""
        v_pre = self.vertical(v)
        if class_v is not None:
            v_pre += class_v[:, None, None, :]
        h_pre = self.horizontal(h) + self.link(v_pre)
        if class_h is not None:
            h_pre += class_h[:, None, None, :]
        if extra is not None:
            h_pre += extra
        return gate(v_pre), self._horizontal_output(h, h_pre)

    def vertical_row(self, window, class_v=None):
        """One row of the vertical stack from its input window (`VerticalConv.row`).

        Returns `(v' [N, W, width], Link(v_pre) [N, W, 2 * width])`.
        """
        v_pre = self.vertical.row(window)
        if class_v is not None:
            v_pre += class_v[:, None, :]
        return gate(v_pre), self.link(v_pre)

    def horizontal_pixel(self, window, link, class_h=None, extra=None):
        """One pixel of the horizontal stack: window `[N, window_width, in]`, link `[N, 2w]`."""
        h_pre = self.horizontal.pixel(window) + link
        if class_h is not None:
            h_pre += class_h
        if extra is not None:
            h_pre += extra
        return self._horizontal_output(window[:, -1], h_pre)


class GatedPixelCNN(tf.Module):
    """Gated PixelCNN: `x [N, H, W, C]` -> per-sub-pixel output parameters `[N, H, W, C, P]`.

    ```none
    (v, h) = (x, x)
    (v, h) = GatedLayer_l(v, h, label, conditioner(l, h))    for l = 0 .. num_layers - 1
    params = Out2(elu(Out1(elu(h))))                          # 1x1, masked 'B', Out2 zero at init
    params[n, r, c, k] depends on x[n, r', c', k'] only if (r', c', k') comes before (r, c, k)
    ```

    The output starts at zero (uniform categoricals, fair coins), the gated layers at random.
    ELU in the head, not ReLU, so that no input position loses its gradient to a dead unit.

    `conditioner(l, features, rows, cols)` (layers `l >= 1`) may add a term `[N, h, w, 2 * width]`
    to the horizontal gate pre-activation of layer `l`, e.g. attention over a support set; to keep
    the order it may read `features` of group `g` only for its output channels of groups `>= g`
    (see `tfp_flows.networks.masked_conv`), and anything that does not depend on the image.

    Args:
      image_shape: `(H, W, C)`.
      params_per_sub_pixel: `P`, output parameters per sub-pixel.
      num_layers: gated layers. Default value: 12.
      hidden_width: channels of both stacks. Default value: 64.
      kernel_size: odd kernel size of layers 1.. . Default value: 3.
      first_kernel_size: odd kernel size of layer 0. Default value: 7.
      head_width: channels of the hidden 1x1 layer of the head. Default: `2 * hidden_width`.
      num_classes: classes for class-conditional gates, 0 for none. Default value: 0.
      seed: int, `np.random.SeedSequence` or None, for the initial weights.
      dtype: variable dtype. Default value: `tf.float32`.
      name: module name.

    #### References

    [1]: Aaron van den Oord, Nal Kalchbrenner, Oriol Vinyals, Lasse Espeholt, Alex Graves,
         Koray Kavukcuoglu. Conditional Image Generation with PixelCNN Decoders. In NeurIPS,
         2016. https://arxiv.org/abs/1606.05328
    """

    def __init__(
        self,
        image_shape,
        params_per_sub_pixel: int,
        num_layers: int = 12,
        hidden_width: int = 64,
        kernel_size: int = 3,
        first_kernel_size: int = 7,
        head_width: int | None = None,
        num_classes: int = 0,
        seed=None,
        dtype: tf.DType = tf.float32,
        name: str = 'gated_pixel_cnn',
    ):
        super().__init__(name=name)
        height, width, channels = (int(d) for d in image_shape)
        _validation.integer(num_layers, 'num_layers', 1)
        _validation.integer(
            hidden_width,
            'hidden_width',
            channels,
            bounds=f'>= C={channels} (one channel per sub-pixel at least)',
        )
        head_width = 2 * hidden_width if head_width is None else head_width
        _validation.integer(head_width, 'head_width', channels, bounds=f'>= C={channels}')
        if num_classes < 0:
            raise ValueError(f'num_classes must be >= 0; got {num_classes}.')
        self.image_shape = (height, width, channels)
        self.params_per_sub_pixel = int(params_per_sub_pixel)
        self.hidden_width = hidden_width
        self.num_classes = int(num_classes)
        seeds = _seeds.spawn(seed, num_layers + 1)
        hidden_groups = channel_groups(hidden_width, channels)
        with self.name_scope:
            self.layers = [
                GatedLayer(
                    channels if index == 0 else hidden_width,
                    hidden_width,
                    channels,
                    first_kernel_size if index == 0 else kernel_size,
                    first=index == 0,
                    num_classes=num_classes,
                    seed=seeds[index],
                    dtype=dtype,
                    name=f'layer_{index}',
                )
                for index in range(num_layers)
            ]
            head_groups = channel_groups(head_width, channels)
            self.head_hidden = MaskedConv1x1(
                hidden_width,
                head_width,
                hidden_groups,
                head_groups,
                'B',
                seed=seeds[-1],
                dtype=dtype,
                name='head_hidden',
            )
            out_width = channels * self.params_per_sub_pixel
            self.head_out = MaskedConv1x1(
                head_width,
                out_width,
                head_groups,
                channel_groups(out_width, channels),
                'B',
                zero_init=True,
                dtype=dtype,
                name='head_out',
            )

    def _head(self, h: tf.Tensor) -> tf.Tensor:
        params = self.head_out(tf.nn.elu(self.head_hidden(tf.nn.elu(h))))
        shape = tf.concat(
            [tf.shape(params)[:-1], [self.image_shape[-1], self.params_per_sub_pixel]], axis=0
        )
        return tf.reshape(params, shape)

    def _class_terms(self, label):
        if label is not None and not self.num_classes:
            raise ValueError('this network is not class-conditional (num_classes=0).')
        return [layer.class_terms(label) for layer in self.layers]

    def __call__(
        self, x: tf.Tensor, label: tf.Tensor | None = None, conditioner: Conditioner | None = None
    ) -> tf.Tensor:
        """Output parameters `[N, H, W, C, P]` of every sub-pixel, in one parallel pass."""
        return self._head(self.hidden_features(x, label, conditioner))

    def hidden_features(
        self, x: tf.Tensor, label: tf.Tensor | None = None, conditioner: Conditioner | None = None
    ) -> tf.Tensor:
        """The last gated layer's horizontal output `[N, H, W, hidden_width]`, the head's input.

        Channel group `g` at `(r, c)` reads the image only before sub-pixel `g` of `(r, c)`, as
        the head's outputs for that sub-pixel do (see `tfp_flows.networks.masked_conv`).
        """
        height, width, _ = self.image_shape
        rows, cols = tf.range(height), tf.range(width)
        v, h = x, x
        for index, (layer, (class_v, class_h)) in enumerate(
            zip(self.layers, self._class_terms(label))
        ):
            extra = conditioner(index, h, rows, cols) if conditioner and index else None
            v, h = layer(v, h, class_v, class_h, extra)
        return h

    def autoregress(
        self,
        batch_size,
        draw: Draw,
        label: tf.Tensor | None = None,
        conditioner: Conditioner | None = None,
        return_parameters: bool = False,
    ):
        """Generates images sub-pixel by sub-pixel; call it inside a `tf.function`.

        Computes only what the next sub-pixel needs, caching the rest (as in Ramachandran et al.,
        2017): per row, one row of every vertical layer from a rolling window of the rows above;
        per pixel, one pixel of every horizontal layer from a rolling window of the pixels to its
        left; `C` passes per pixel, one per sub-pixel. The loops are `tf.while_loop`s.

        Args:
          batch_size: `N`, a scalar int32 tensor.
          draw: `draw(parameters [N, P], row, col, channel) -> (value int32 [N], input [N])`
            picks the sub-pixel's value and its network input (sampling, or teacher forcing).
          label: int32 `[N]` for a class-conditional network.
          conditioner: as in `__call__`.
          return_parameters: also return the parameters each draw saw. Default: `False`.

        Returns:
          values: int32 `[N, H, W, C]`, and with `return_parameters` also `[N, H, W, C, P]`.
        """
        height, width, channels = self.image_shape
        dtype = self.head_out.kernel.dtype
        class_terms = self._class_terms(label)
        vertical = [layer.vertical for layer in self.layers]
        horizontal = [layer.horizontal for layer in self.layers]
        in_widths = [channels] + [self.hidden_width] * (len(self.layers) - 1)

        def zeros(*shape):
            return tf.zeros([batch_size, *shape], dtype)

        one_hot = tf.eye(channels, dtype=dtype)

        def pixel_body(row, col, h_caches, links, values_ta, inputs_ta, params_ta):
            pixel = zeros(channels)
            values, params_seen = [], []
            for channel in range(channels):
                h, windows = pixel, []
                for index, layer in enumerate(self.layers):
                    window = tf.concat([h_caches[index], h[:, None]], axis=1)
                    windows.append(window)
                    extra = None
                    if conditioner and index:
                        extra = conditioner(index, h[:, None, None], row[None], col[None])
                        extra = None if extra is None else extra[:, 0, 0]
                    link = links[index][:, col]
                    h = layer.horizontal_pixel(window, link, class_terms[index][1], extra)
                params = self._head(h)[:, channel]
                value, net_input = draw(params, row, col, channel)
                pixel += net_input[:, None] * one_hot[channel]
                values.append(value)
                params_seen.append(params)
            # Layers >= 1 never see the last sub-pixel of the current pixel, so their windows from
            # the last pass are final; layer 0 reads the image and needs the completed pixel.
            first_window = tf.concat([h_caches[0], pixel[:, None]], axis=1)
            h_caches = [first_window[:, 1:]] + [window[:, 1:] for window in windows[1:]]
            values_ta = values_ta.write(col, tf.stack(values, axis=1))
            inputs_ta = inputs_ta.write(col, pixel)
            if return_parameters:
                params_ta = params_ta.write(col, tf.stack(params_seen, axis=1))
            return row, col + 1, h_caches, links, values_ta, inputs_ta, params_ta

        def row_body(row, image_window, v_windows, rows_ta, row_params_ta):
            # The vertical stack at this row, layer by layer; its rolling windows hold the inputs
            # of the rows above (zeros above the image).
            links, new_v_windows, below = [], [], None
            for index, layer in enumerate(self.layers):
                if index == 0:
                    window = image_window
                else:
                    pad = vertical[index].padding
                    padded = tf.pad(below, [[0, 0], [pad, pad], [0, 0]])
                    window = tf.concat([v_windows[index - 1][:, 1:], padded[:, None]], axis=1)
                    new_v_windows.append(window)
                below, link = layer.vertical_row(window, class_terms[index][0])
                links.append(link)
            h_caches = [
                zeros(conv.window_width - 1, in_width)
                for conv, in_width in zip(horizontal, in_widths)
            ]
            values_ta = tf.TensorArray(tf.int32, size=width)
            inputs_ta = tf.TensorArray(dtype, size=width)
            params_ta = tf.TensorArray(dtype, size=width if return_parameters else 0)
            _, _, _, _, values_ta, inputs_ta, params_ta = tf.while_loop(
                lambda row, col, *_: col < width,
                pixel_body,
                (row, tf.constant(0), h_caches, links, values_ta, inputs_ta, params_ta),
            )
            # [W, N, C] -> [N, W, C]
            row_values = tf.transpose(values_ta.stack(), [1, 0, 2])
            row_inputs = tf.transpose(inputs_ta.stack(), [1, 0, 2])
            pad = vertical[0].padding
            padded = tf.pad(row_inputs, [[0, 0], [pad, pad], [0, 0]])
            image_window = tf.concat([image_window[:, 1:], padded[:, None]], axis=1)
            rows_ta = rows_ta.write(row, row_values)
            if return_parameters:
                row_params_ta = row_params_ta.write(row, params_ta.stack())
            return row + 1, image_window, new_v_windows, rows_ta, row_params_ta

        image_window = zeros(vertical[0].window_height, width + 2 * vertical[0].padding, channels)
        v_windows = [
            zeros(conv.window_height, width + 2 * conv.padding, self.hidden_width)
            for conv in vertical[1:]
        ]
        rows_ta = tf.TensorArray(tf.int32, size=height)
        row_params_ta = tf.TensorArray(dtype, size=height if return_parameters else 0)
        _, _, _, rows_ta, row_params_ta = tf.while_loop(
            lambda row, *_: row < height,
            row_body,
            (tf.constant(0), image_window, v_windows, rows_ta, row_params_ta),
        )
        # [H, N, W, C] -> [N, H, W, C]
        values = tf.transpose(rows_ta.stack(), [1, 0, 2, 3])
        if not return_parameters:
            return values
        # [H, W, N, C, P] -> [N, H, W, C, P]
        return values, tf.transpose(row_params_ta.stack(), [2, 0, 1, 3, 4])
