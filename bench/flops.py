"""Model FLOPs of a Glow, counted analytically from its architecture.

Only convolutions and channel matmuls are counted (2 FLOPs per multiply-add); elementwise ops,
reductions and the `[C, C]` log-determinants are memory-bound or tiny and left out, as is usual
for model-FLOPs utilisation. A training step costs about 3x the forward pass: the backward pass
computes, for every conv, one gradient with respect to its input and one with respect to its
kernel, each as large as the forward conv.
"""

__all__ = ['forward_flops_per_image', 'train_flops_per_image']


def _conv(pixels: int, kernel_size: int, in_channels: int, out_channels: int) -> int:
    return 2 * pixels * kernel_size * kernel_size * in_channels * out_channels


def forward_flops_per_image(
    image_shape: tuple[int, int, int],
    num_levels: int,
    steps_per_level: int,
    hidden_width: int,
    coupling: str = 'affine',
) -> int:
    """FLOPs of one pass through the flow (encode, log_prob or decode) for one image.

    Per flow step at a level of `h x w x c`: the 1x1 invertible conv (`c x c` per pixel), and the
    coupling network `conv3x3(c/2 + 1 -> width)`, `conv1x1(width -> width)`,
    `conv3x3(width -> c or c/2)`; the `+ 1` is openai/glow's border-indicator input channel. At
    each split, the prior's `conv3x3(c/2 + 1 -> c)`. The indicator's share of the last conv is the
    same for every image, so tfglow computes it once per batch and it is not counted.
    """
    height, width, channels = image_shape
    total = 0
    for level in range(num_levels):
        height, width, channels = height // 2, width // 2, channels * 4
        pixels = height * width
        out = channels if coupling == 'affine' else channels // 2
        step = (
            2 * pixels * channels * channels
            + _conv(pixels, 3, channels // 2 + 1, hidden_width)
            + _conv(pixels, 1, hidden_width, hidden_width)
            + _conv(pixels, 3, hidden_width, out)
        )
        total += steps_per_level * step
        if level < num_levels - 1:
            total += _conv(pixels, 3, channels // 2 + 1, channels)
            channels //= 2
    return total


def train_flops_per_image(*args, **kwargs) -> int:
    """FLOPs of one training step per image: forward + backward ~= 3x forward."""
    return 3 * forward_flops_per_image(*args, **kwargs)
