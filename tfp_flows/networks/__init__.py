"""Conditioner networks (plain tf.Modules) used inside tfp_flows bijectors and distributions."""

from tfp_flows.networks.attention import (
    SupportAttention,
    masked_attention,
    positional_channels,
    support_memory,
)
from tfp_flows.networks.conv import Conv2D, HeConv2D, LinearZeros, ZeroConv2D, edge_padded_conv2d
from tfp_flows.networks.coupling_network import CouplingNetwork
from tfp_flows.networks.gated_pixel_cnn import GatedLayer, GatedPixelCNN
from tfp_flows.networks.inner_loss import InnerLoss
from tfp_flows.networks.masked_conv import (
    HorizontalConv,
    MaskedConv1x1,
    VerticalConv,
    channel_groups,
    gated_groups,
    sub_pixel_mask,
)
from tfp_flows.networks.set_encoder import SetEncoder
from tfp_flows.networks.support_encoder import SupportEncoder, slot_mask
from tfp_flows.networks.support_map import SupportMap

__all__ = [
    'Conv2D',
    'CouplingNetwork',
    'GatedLayer',
    'GatedPixelCNN',
    'HeConv2D',
    'HorizontalConv',
    'InnerLoss',
    'LinearZeros',
    'MaskedConv1x1',
    'SetEncoder',
    'SupportAttention',
    'SupportEncoder',
    'SupportMap',
    'VerticalConv',
    'ZeroConv2D',
    'channel_groups',
    'edge_padded_conv2d',
    'gated_groups',
    'masked_attention',
    'positional_channels',
    'slot_mask',
    'sub_pixel_mask',
    'support_memory',
]
