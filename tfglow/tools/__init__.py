"""Command-line tools: thin absl binaries over tested tfglow functions."""
