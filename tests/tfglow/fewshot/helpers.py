"""Shared pieces of the few-shot evaluation tests (not a test module): small models, built once
(the tests only read them), a rigged nearest-support "model" and well-separated classes."""

import functools

import numpy as np

import tfp_flows
import tfp_flows.dequantization as dq
from tfp_flows import testing

GLOW_SHAPE = (8, 8, 1)
PIXEL_SHAPE = (4, 4, 1)


def uint8_images(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


@functools.cache
def few_shot_glow():
    model = tfp_flows.FewShotGlow(
        GLOW_SHAPE,
        num_levels=2,
        steps_per_level=1,
        hidden_width=8,
        context_channels=4,
        encoder_width=8,
        num_heads=2,
        seed=0,
    )
    x = dq.dequantize(dq.preprocess(uint8_images((6, *GLOW_SHAPE)), 3), 3, seed=[0, 1])
    model.initialize(x, support=dq.preprocess(uint8_images((6, 2, *GLOW_SHAPE), seed=1), 3))
    # Leave the zero-initialised state, so that the support changes the density.
    testing.perturb_variables(model, 0.05, seed=2)
    return model


@functools.cache
def glow():
    model = tfp_flows.Glow(GLOW_SHAPE, num_levels=2, steps_per_level=1, hidden_width=8, seed=0)
    model.initialize(
        dq.dequantize(dq.preprocess(uint8_images((6, *GLOW_SHAPE)), 3), 3, seed=[0, 1])
    )
    testing.perturb_variables(model, 0.05, seed=2)
    return model


@functools.cache
def pixel_cnn(attention: bool, output: str = 'bernoulli'):
    options = dict(output=output, num_layers=2, hidden_width=8, seed=0)
    if attention:
        model = tfp_flows.AttentionPixelCNN(
            PIXEL_SHAPE,
            num_heads=1,
            key_width=4,
            value_width=4,
            encoder_width=4,
            encoder_layers=1,
            **options,
        )
    else:
        model = tfp_flows.PixelCNN(PIXEL_SHAPE, **options)
    testing.perturb_variables(model, 0.3, seed=1)
    return model


class NearestSupport:
    """A rigged 'model': log P(x | S) = -(mean squared distance to the nearest image of S).

    Classification by it is nearest-neighbour classification, so on well-separated classes the
    answer is known. Sampling returns the support's mean image and records the set sizes seen.
    """

    name = 'nearest_support'
    image_shape = PIXEL_SHAPE
    num_bins = 256
    takes_support = True
    estimators = ('exact',)

    def __init__(self, sign: float = 1.0):
        self.sign = sign
        self.sample_support_sizes = []
        self.scored_supports = []

    def log_prob_discrete(self, images, support=None, support_mask=None, seed=0):
        del support_mask, seed
        if support is None:
            return {'exact': np.full(len(images), -1e4)}
        self.scored_supports.append(support)
        difference = support.astype(np.float64) - images[:, None].astype(np.float64)
        distance = np.mean(difference**2, axis=(2, 3, 4)).min(axis=1)
        return {'exact': -self.sign * distance}

    def sample_uint8(self, n, support=None, support_mask=None, seed=0, temperature=1.0):
        del support_mask, seed, temperature
        self.sample_support_sizes.append(support.shape[1])
        mean = support.mean(axis=1).astype(np.uint8)
        return np.broadcast_to(mean, (n, *mean.shape)).copy()


def separated_classes(num_classes=6, per_class=6, shape=PIXEL_SHAPE, group_sizes=None):
    """Class c's images are c * 40 + noise in [0, 5): every image is nearest to its own class.

    All classes are of group 'alphabet', or with `group_sizes` the first `group_sizes[0]` of
    'alphabet0', the next of 'alphabet1', ... (`num_classes` is then their sum).
    """
    rng = np.random.default_rng(0)
    group_sizes = group_sizes or [num_classes]
    groups = [g for g, size in enumerate(group_sizes) for _ in range(size)]
    prefix = 'alphabet' if len(group_sizes) == 1 else 'alphabet{}'
    return {
        f'{prefix.format(g)}/character{c:02d}': (
            c * 40 + rng.integers(0, 5, (per_class, *shape))
        ).astype(np.uint8)
        for c, g in enumerate(groups)
    }
