"""tfp_flows: normalizing-flow bijectors and distributions for TensorFlow Probability.

Glow's layers (ActNorm, invertible 1x1 convolution, couplings, squeeze, multi-scale split with a
learned prior) as `tfp.bijectors`, composed into `tfp_flows.Glow`, a `tfd.TransformedDistribution`;
and gated PixelCNNs (`tfp_flows.PixelCNN`, and `tfp_flows.AttentionPixelCNN` conditioned on a
support set) as `tfd.Distribution`s.
"""

from tfp_flows import bijectors, dequantization, distributions, networks
from tfp_flows.distributions import AttentionPixelCNN, Glow, PixelCNN

__all__ = [
    'AttentionPixelCNN',
    'Glow',
    'PixelCNN',
    'bijectors',
    'dequantization',
    'distributions',
    'networks',
]
