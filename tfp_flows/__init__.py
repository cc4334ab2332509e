"""tfp_flows: normalizing-flow bijectors and distributions for TensorFlow Probability.

Glow's layers (ActNorm, invertible 1x1 convolution, couplings, squeeze, multi-scale split with a
learned prior) as `tfp.bijectors`, composed into `tfp_flows.Glow`, a `tfd.TransformedDistribution`.
"""

from tfp_flows import bijectors, dequantization, distributions, networks
from tfp_flows.distributions import Glow

__all__ = ['Glow', 'bijectors', 'dequantization', 'distributions', 'networks']
