"""Packaging layout; metadata, dependencies and console scripts are in setup.cfg.

The binaries live in the top-level `tools/` directory and install as the `tfglow.tools` package,
so that `python tools/train.py` runs from a checkout without a generic top-level `tools` package
landing in site-packages. setup.cfg's `find:` cannot give a directory another package name.
"""

import setuptools

setuptools.setup(
    packages=[
        *setuptools.find_packages(include=['tfglow', 'tfglow.*', 'tfp_flows', 'tfp_flows.*']),
        'tfglow.tools',
    ],
    package_dir={'tfglow.tools': 'tools'},
)
