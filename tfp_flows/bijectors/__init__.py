"""Glow's layers as TensorFlow Probability bijectors on image events `[B, H, W, C]`."""

from tfp_flows.bijectors.act_norm import ActNorm
from tfp_flows.bijectors.coupling import Coupling
from tfp_flows.bijectors.dequantization_flow import DequantizationFlow
from tfp_flows.bijectors.flow_bijector import FlowBijector
from tfp_flows.bijectors.glow_flow import GlowFlow
from tfp_flows.bijectors.invertible_conv1x1 import InvertibleConv1x1
from tfp_flows.bijectors.permutation import ChannelPermutation
from tfp_flows.bijectors.split import Split
from tfp_flows.bijectors.squeeze import Squeeze
from tfp_flows.bijectors.top_prior import TopPrior

__all__ = [
    'ActNorm',
    'ChannelPermutation',
    'Coupling',
    'DequantizationFlow',
    'FlowBijector',
    'GlowFlow',
    'InvertibleConv1x1',
    'Split',
    'Squeeze',
    'TopPrior',
]
