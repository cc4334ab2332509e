"""Conditioner networks (plain tf.Modules) used inside tfp_flows bijectors."""

from tfp_flows.networks.conv import Conv2D, LinearZeros, ZeroConv2D, edge_padded_conv2d
from tfp_flows.networks.coupling_network import CouplingNetwork

__all__ = ['Conv2D', 'CouplingNetwork', 'LinearZeros', 'ZeroConv2D', 'edge_padded_conv2d']
