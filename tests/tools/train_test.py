"""End-to-end tests of the `tfglow-train` binary on real data: Fashion-MNIST idx files, Omniglot."""

import glob
import gzip
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile

import pytest
import tensorflow as tf
from absl.testing import parameterized

from tests.tfglow import export_helpers, train_helpers

TRAIN_TAGS = {'bits_per_dim', 'learning_rate', 'grad_norm', 'images_per_sec'}
SAMPLE_TAGS = {f'samples/temperature_{t}' for t in (0.0, 0.5, 0.7, 1.0)}
# Few-shot flows in the end-to-end runs: fewer noise draws and one temperature, so that less is
# traced (the tasks' unit tests cover both).
_FLOW_FLAGS = ('--config.episodes.eval_noise_samples=2', '--config.sample_temperatures=(0.7,)')


def _summaries(directory: str) -> dict[str, set[int]]:
    """Tag -> steps, over every event file in `directory`."""
    tags = {}
    for path in glob.glob(os.path.join(directory, 'events.out.tfevents.*')):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                tags.setdefault(value.tag, set()).add(event.step)
    return tags


def _command(console_script: bool) -> list[str]:
    """The installed `tfglow-train`, or `python tools/train.py` as run from a checkout."""
    if console_script:
        return [export_helpers.console_script('tfglow-train')]
    return [sys.executable, os.path.join(train_helpers.REPO_ROOT, 'tools', 'train.py')]


def _run(args: list[str], console_script: bool = True, timeout: int = 240):
    return subprocess.run(
        [*_command(console_script), *args],
        cwd=train_helpers.REPO_ROOT,
        env=train_helpers.subprocess_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.slow
class TrainBinaryTest(tf.test.TestCase):
    def test_sigterm_checkpoint_resume_and_outputs(self):
        workdir = tempfile.mkdtemp(dir=self.get_temp_dir())
        flags = [
            f'--config={train_helpers.SMOKE_CONFIG}',
            f'--workdir={workdir}',
            '--config.log_every_steps=1',
            '--config.checkpoint_every_steps=2',
            '--config.eval_every_steps=2',
        ]
        # Run 1: far more steps than it will get; SIGTERM once an evaluation has happened.
        process = subprocess.Popen(
            [*_command(console_script=True), *flags, '--config.num_train_steps=100000'],
            cwd=train_helpers.REPO_ROOT,
            env=train_helpers.subprocess_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        first_log = []
        try:
            for line in process.stdout:
                first_log.append(line)
                if 'step 3/100000' in line:
                    process.send_signal(signal.SIGTERM)
            process.wait(timeout=120)
        finally:
            process.kill()
        first_log = ''.join(first_log)
        self.assertEqual(process.returncode, 0, first_log)
        self.assertIn('Data-dependent init on', first_log)
        stopped = re.search(r'Stopped by a signal at step (\d+)', first_log)
        self.assertIsNotNone(stopped, first_log)
        stop_step = int(stopped.group(1))
        self.assertGreaterEqual(stop_step, 3)
        self.assertIn(f'Saved checkpoint at step {stop_step}', first_log)
        self.assertTrue(os.path.exists(os.path.join(workdir, 'config.json')))
        self.assertTrue(os.path.exists(os.path.join(workdir, 'checkpoints', 'ckpt-2.index')))
        self.assertTrue(
            os.path.exists(os.path.join(workdir, 'checkpoints', f'ckpt-{stop_step}.index'))
        )
        self.assertTrue(os.path.exists(os.path.join(workdir, 'best', 'ckpt-2.index')))

        # Run 2: two more steps; resumes from the SIGTERM checkpoint without a new init.
        final_step = stop_step + 2
        second = _run([*flags, f'--config.num_train_steps={final_step}'], console_script=False)
        self.assertEqual(second.returncode, 0, second.stderr)
        self.assertIn(f'at step {stop_step}; skipping the data-dependent init', second.stderr)
        self.assertNotIn('Data-dependent init on', second.stderr)
        self.assertIn(f'step {stop_step + 1}/{final_step}: bits/dim', second.stderr)
        self.assertRegex(second.stderr, rf'step {final_step}/{final_step}: bits/dim [\d.]+, .*ETA')

        train_tags = _summaries(os.path.join(workdir, 'train'))
        self.assertContainsSubset(TRAIN_TAGS, train_tags)
        self.assertEqual(train_tags['bits_per_dim'], set(range(1, final_step + 1)))
        eval_tags = _summaries(os.path.join(workdir, 'eval'))
        self.assertContainsSubset(SAMPLE_TAGS | {'bits_per_dim'}, eval_tags)
        self.assertContainsSubset({2, final_step}, eval_tags['bits_per_dim'])

        with open(os.path.join(workdir, 'eval_results.json')) as f:
            results = json.load(f)
        self.assertEqual(results['step'], final_step)
        self.assertBetween(results['eval_bits_per_dim'], 0.5, 9.0)
        self.assertEqual(results['num_eval_examples'], 64)
        for temperature in (0.0, 0.5, 0.7, 1.0):
            png = tf.io.read_file(os.path.join(workdir, f'samples_T{temperature}.png'))
            self.assertEqual(tf.io.decode_png(png).shape[-1], 1)


@pytest.mark.slow
class ModelFamiliesTest(tf.test.TestCase, parameterized.TestCase):
    """Each model family's smoke config: trains, checkpoints, writes summaries and resumes."""

    @parameterized.named_parameters(
        ('pixelcnn', 'fashion_mnist_pixelcnn.py', 'images', False),
        ('attention_pixelcnn', 'omniglot_attention_pixelcnn.py', 'episodes', False),
        ('fewshot_glow_omniglot', 'omniglot_fewshot_glow.py', 'episodes', True),
        ('fewshot_glow_fashion_mnist', 'fashion_mnist_fewshot_glow.py', 'episodes', True),
    )
    def test_trains_checkpoints_and_resumes(self, config_file, unit, is_flow):
        workdir = tempfile.mkdtemp(dir=self.get_temp_dir())
        flags = [
            f'--config=configs/{config_file}:smoke',
            f'--workdir={workdir}',
            # Small evaluations and grids keep the two runs' evaluations short.
            '--config.num_eval_examples=8',
            '--config.eval_batch_size=8',
            '--config.num_samples=2',
            *(_FLOW_FLAGS if is_flow else ()),
        ]
        first = _run([*flags, '--config.num_train_steps=2'])
        self.assertEqual(first.returncode, 0, first.stderr)
        # Only the flows have a data-dependent init.
        self.assertEqual('Data-dependent init on' in first.stderr, is_flow)
        self.assertTrue(os.path.exists(os.path.join(workdir, 'checkpoints', 'ckpt-2.index')))

        second = _run([*flags, '--config.num_train_steps=3'], console_script=False)
        self.assertEqual(second.returncode, 0, second.stderr)
        self.assertIn('at step 2; skipping the data-dependent init', second.stderr)
        self.assertRegex(
            second.stderr, rf'step 3/3: bits/dim [\d.]+, nats/image [\d.]+, .* {unit}/s'
        )
        self.assertTrue(os.path.exists(os.path.join(workdir, 'checkpoints', 'ckpt-3.index')))

        metrics = {'bits_per_dim', 'nats_per_image'}
        train_tags = _summaries(os.path.join(workdir, 'train'))
        self.assertContainsSubset(
            metrics | {'learning_rate', 'grad_norm', f'{unit}_per_sec'}, train_tags
        )
        self.assertEqual(train_tags['nats_per_image'], {1, 2, 3})
        eval_tags = _summaries(os.path.join(workdir, 'eval'))
        self.assertContainsSubset(metrics, eval_tags)
        self.assertEqual(eval_tags['nats_per_image'], {2, 3})
        self.assertTrue(any(tag.startswith('samples/temperature_') for tag in eval_tags))

        with open(os.path.join(workdir, 'eval_results.json')) as f:
            results = json.load(f)
        self.assertEqual(results['step'], 3)
        self.assertBetween(results['eval_bits_per_dim'], 0.0, 9.0)
        num_dims_ln2 = 28 * 28 * math.log(2.0)
        self.assertAllClose(
            results['eval_nats_per_image'], results['eval_bits_per_dim'] * num_dims_ln2
        )
        self.assertTrue(glob.glob(os.path.join(workdir, 'samples_T*.png')))


@pytest.mark.slow
class TrainBinaryErrorsTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.named_parameters(
        ('unknown_strategy', ['--config.strategy=horovod'], "strategy must be one of .*'horovod'"),
        ('bad_batch_size', ['--config.batch_size=0'], 'batch_size must be an integer >= 1'),
        ('missing_data', ['--config.data.path=/no/such/dir'], '/no/such/dir'),
        ('corrupt_data', ['--config.data.path={corrupt}'], 'train-images-idx3-ubyte'),
    )
    def test_clear_error(self, flags, message):
        corrupt = tempfile.mkdtemp(dir=self.get_temp_dir())
        for name in ('train-images-idx3-ubyte', 't10k-images-idx3-ubyte'):
            with gzip.open(os.path.join(corrupt, name + '.gz'), 'wb') as f:
                f.write(b'\x00\x00\x08\x03not an idx file')
        for name in ('train-labels-idx1-ubyte', 't10k-labels-idx1-ubyte'):
            with gzip.open(os.path.join(corrupt, name + '.gz'), 'wb') as f:
                f.write(b'\x00\x00\x08\x01\x00\x00\x00\x01\x00')
        result = _run(
            [
                f'--config={train_helpers.SMOKE_CONFIG}',
                f'--workdir={tempfile.mkdtemp(dir=self.get_temp_dir())}',
                *[flag.format(corrupt=corrupt) for flag in flags],
            ]
        )
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn('tfglow-train: error:', result.stderr)
        self.assertRegex(result.stderr, message)
        self.assertNotIn('Traceback', result.stderr)


if __name__ == '__main__':
    tf.test.main()
