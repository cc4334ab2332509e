"""The tfglow binaries: thin absl mains over tested tfglow functions.

Installed as the `tfglow.tools` package (see setup.py) behind the `tfglow-*` console scripts; from a
checkout, `python tools/<name>.py` runs the same main. Each binary imports tfglow's TensorFlow
modules inside `main`, so that `--help` answers at once.
"""
