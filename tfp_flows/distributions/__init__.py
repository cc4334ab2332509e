"""Distributions built from tfp_flows bijectors."""

from tfp_flows.distributions.glow import Glow

__all__ = ['Glow']
