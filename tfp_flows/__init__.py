"""tfp_flows: normalizing-flow bijectors and distributions for TensorFlow Probability.

Glow's layers (ActNorm, invertible 1x1 convolution, couplings, squeeze, multi-scale split with a
learned prior) as `tfp.bijectors`, composed into `tfp_flows.Glow`, a `tfd.TransformedDistribution`;
gated PixelCNNs (`tfp_flows.PixelCNN`) as `tfd.Distribution`s; and the two few-shot models, which
read a support set through one `networks.SupportEncoder`: `tfp_flows.AttentionPixelCNN` attends
over it, `tfp_flows.FewShotGlow` conditions every Glow level on a context pooled from it;
`tfp_flows.MetaPixelCNN` adapts a PixelCNN to the set by gradient steps on a learned loss; and
`tfp_flows.VariationalDequantizer`, a learned dequantisation noise q(u | x) (Flow++) for flows.
"""

from tfp_flows import bijectors, dequantization, distributions, networks
from tfp_flows.distributions import (
    AttentionPixelCNN,
    FewShotGlow,
    Glow,
    MetaPixelCNN,
    PixelCNN,
    VariationalDequantizer,
)

__all__ = [
    'AttentionPixelCNN',
    'FewShotGlow',
    'Glow',
    'MetaPixelCNN',
    'PixelCNN',
    'VariationalDequantizer',
    'bijectors',
    'dequantization',
    'distributions',
    'networks',
]
