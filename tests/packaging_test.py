"""The install: one TensorFlow, constraints.txt as setup.cfg allows, no TF noise from binaries."""

import configparser
import importlib.metadata
import os
import subprocess
import sys

import tensorflow as tf
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Distributions that each unpack a whole TensorFlow into site-packages/tensorflow.
TENSORFLOW_DISTRIBUTIONS = ('tensorflow', 'tensorflow-cpu', 'tensorflow-gpu', 'tensorflow-intel')
# What TensorFlow prints on start-up on a CPU machine unless the binaries keep it back.
NOISE = ('cuInit', 'oneDNN', 'absl::InitializeLog', 'cuda drivers')


def _requirements() -> list[Requirement]:
    """setup.cfg's install_requires and every extra's requirements."""
    config = configparser.ConfigParser()
    config.read(os.path.join(REPO_ROOT, 'setup.cfg'))
    values = [config['options']['install_requires'], *config['options.extras_require'].values()]
    lines = [line.strip() for value in values for line in value.splitlines()]
    return [Requirement(line) for line in lines if line and not line.startswith('#')]


def _constraints() -> dict[str, str]:
    """constraints.txt as {canonical name: pinned version}."""
    pins = {}
    with open(os.path.join(REPO_ROOT, 'constraints.txt')) as f:
        for line in f:
            line = line.split('#')[0].strip()
            if line:
                name, version = line.split('==')
                pins[canonicalize_name(name)] = version
    return pins


def _stderr_of(*args: str) -> str:
    """stderr of `python tools/<args>` in a fresh process, TF_CPP_MIN_LOG_LEVEL left unset."""
    env = dict(os.environ)
    env.pop('TF_CPP_MIN_LOG_LEVEL', None)
    env.pop('TF_CONFIG', None)
    result = subprocess.run(
        [sys.executable, os.path.join('tools', args[0]), *args[1:]],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return result.stderr


class PackagingTest(tf.test.TestCase):
    def test_one_tensorflow_distribution_installed(self):
        installed = {
            canonicalize_name(d.metadata['Name']) for d in importlib.metadata.distributions()
        }
        found = [name for name in TENSORFLOW_DISTRIBUTIONS if name in installed]
        self.assertEqual(found, ['tensorflow'], 'run scripts/setup.sh to repair this venv')

    def test_setup_cfg_asks_for_one_tensorflow_with_upper_bounds(self):
        requirements = {canonicalize_name(r.name): r for r in _requirements()}
        self.assertEqual(
            [name for name in TENSORFLOW_DISTRIBUTIONS if name in requirements], ['tensorflow']
        )
        for name in ('tensorflow', 'tensorflow-probability', 'tf-keras', 'keras', 'tensorboard'):
            self.assertTrue(
                any(spec.operator == '<' for spec in requirements[name].specifier),
                f'{name} needs an upper bound: {requirements[name]}',
            )

    def test_constraints_pin_every_requirement_within_its_range(self):
        pins = _constraints()
        for requirement in _requirements():
            name = canonicalize_name(requirement.name)
            self.assertIn(name, pins, f'constraints.txt does not pin {name}')
            self.assertIn(pins[name], requirement.specifier, f'{name}=={pins[name]}')

    def test_installed_versions_are_the_constrained_ones(self):
        for name in ('tensorflow', 'tensorflow-probability', 'tf-keras', 'keras'):
            self.assertEqual(importlib.metadata.version(name), _constraints()[name], name)

    def test_binaries_print_no_tensorflow_start_up_noise(self):
        help_text = _stderr_of('export.py', '--help')
        # main runs (and imports TensorFlow) before it finds the workdir missing.
        error = _stderr_of('export.py', '--workdir=/nonexistent/run', '--export_dir=/tmp/unused')
        for noise in NOISE:
            self.assertNotIn(noise, help_text)
            self.assertNotIn(noise, error)
        self.assertEqual(len(error.strip().splitlines()), 1, error)
        self.assertIn('tfglow-export: error:', error)
