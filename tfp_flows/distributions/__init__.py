"""Distributions built from tfp_flows bijectors and networks."""

from tfp_flows.distributions.attention_pixel_cnn import AttentionPixelCNN
from tfp_flows.distributions.few_shot_glow import FewShotGlow
from tfp_flows.distributions.glow import Glow
from tfp_flows.distributions.meta_pixel_cnn import MetaPixelCNN
from tfp_flows.distributions.pixel_cnn import PixelCNN
from tfp_flows.distributions.variational_dequantizer import VariationalDequantizer

__all__ = [
    'AttentionPixelCNN',
    'FewShotGlow',
    'Glow',
    'MetaPixelCNN',
    'PixelCNN',
    'VariationalDequantizer',
]
