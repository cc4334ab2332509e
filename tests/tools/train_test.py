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
from tests.tools.run_binary import run_binary

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
            # On a loaded machine the signal can land a few steps late: keep every checkpoint so
            # that the step-2 one is still there to check.
            '--config.keep_checkpoints=1000',
        ]

        # Run 1: far more steps than it will get; SIGTERM once an evaluation has happened.
        def stop_at_step_3(line, process):
            if 'step 3/100000' in line:
                process.send_signal(signal.SIGTERM)

        process, first_log = train_helpers.watch(
            [*_command(console_script=True), *flags, '--config.num_train_steps=100000'],
            stop_at_step_3,
        )
        # 128 + 15: a scheduler sees a job stopped before its end, not a finished one.
        self.assertEqual(process.returncode, 143, first_log)
        self.assertIn('Data-dependent init on', first_log)
        stopped = re.search(r'Stopped by SIGTERM at step (\d+)', first_log)
        self.assertIsNotNone(stopped, first_log)
        stop_step = int(stopped.group(1))
        self.assertGreaterEqual(stop_step, 3)
        self.assertIn(f'Saved checkpoint at step {stop_step}', first_log)
        self.assertTrue(os.path.exists(os.path.join(workdir, 'config.json')))
        self.assertTrue(os.path.exists(os.path.join(workdir, 'checkpoints', 'ckpt-2.index')))
        self.assertTrue(
            os.path.exists(os.path.join(workdir, 'checkpoints', f'ckpt-{stop_step}.index'))
        )
        # The best state is one of the evaluated (even) steps up to the stop, and only one is kept.
        best = tf.train.latest_checkpoint(os.path.join(workdir, 'best'))
        self.assertIsNotNone(best)
        best_step = int(best.rsplit('-', 1)[1])
        self.assertEqual(best_step % 2, 0)
        self.assertBetween(best_step, 2, stop_step)
        self.assertLen(tf.io.gfile.glob(os.path.join(workdir, 'best', 'ckpt-*.index')), 1)

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
class StopAndLockTest(tf.test.TestCase):
    def test_ctrl_c_saves_and_a_second_run_waits_for_the_first(self):
        workdir = tempfile.mkdtemp(dir=self.get_temp_dir())
        flags = [
            f'--config={train_helpers.SMOKE_CONFIG}',
            f'--workdir={workdir}',
            '--config.checkpoint_every_steps=1000',
            '--config.eval_every_steps=1000',
            '--config.num_eval_examples=8',
            '--config.eval_batch_size=8',
            '--config.num_samples=2',
            '--config.sample_temperatures=(0.7,)',
        ]
        runs = []

        def second_run_then_ctrl_c(line, process):
            if 'step 2/100000' in line:
                # A second run in the same workdir, while the first holds it.
                runs.append(_run([*flags, '--config.num_train_steps=100000']))
                process.send_signal(signal.SIGINT)

        process, log = train_helpers.watch(
            [*_command(console_script=True), *flags, '--config.num_train_steps=100000'],
            second_run_then_ctrl_c,
        )
        (second,) = runs
        self.assertEqual(second.returncode, 1, second.stderr)
        self.assertRegex(
            second.stderr.splitlines()[-1],
            rf'^tfglow-train: error: workdir {workdir} is in use by another training run '
            rf'\(pid {process.pid} on host .* since [\d-]+ [\d:]+.*\); wait for it to end',
        )
        self.assertNotIn('Traceback', second.stderr)

        # Ctrl-C: a checkpoint and one line, no KeyboardInterrupt traceback; 128 + 2.
        self.assertEqual(process.returncode, 130, log)
        self.assertNotIn('Traceback', log)
        stopped = re.search(r'Stopped by SIGINT at step (\d+) of 100000, checkpoint saved', log)
        self.assertIsNotNone(stopped, log)
        stop_step = int(stopped.group(1))
        self.assertTrue(
            os.path.exists(os.path.join(workdir, 'checkpoints', f'ckpt-{stop_step}.index'))
        )

        # The first run has ended: its lock is gone, and a rerun resumes where it stopped.
        resumed = _run([*flags, f'--config.num_train_steps={stop_step + 1}'])
        self.assertEqual(resumed.returncode, 0, resumed.stderr)
        self.assertIn(f'at step {stop_step}; skipping the data-dependent init', resumed.stderr)


@pytest.mark.slow
class ModelFamiliesTest(tf.test.TestCase, parameterized.TestCase):
    """Each model family's smoke config: trains, checkpoints, writes summaries and resumes."""

    @parameterized.named_parameters(
        ('pixelcnn', 'fashion_mnist_pixelcnn.py', 'images', False),
        ('attention_pixelcnn', 'omniglot_attention_pixelcnn.py', 'episodes', False),
        ('meta_pixelcnn', 'omniglot_meta_pixelcnn.py', 'episodes', False),
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


class ConfigErrorsTest(parameterized.TestCase):
    """Config mistakes that absl meets while parsing the flags, before main: one line, exit 1."""

    @parameterized.named_parameters(
        (
            'field_typo',
            ['--config=configs/fashion_mnist_glow.py:smoke', '--config.batch_sise=3'],
            "--config.batch_sise: the config has no field 'batch_sise' "
            "(did you mean 'batch_size'?)",
        ),
        (
            'unknown_variant',
            ['--config=configs/fashion_mnist_glow.py:bogus'],
            "flag --config=configs/fashion_mnist_glow.py:bogus: unknown config variant 'bogus'; "
            'variants of this config: smoke, long (combine with commas)',
        ),
    )
    def test_one_line_naming_the_mistake(self, flags, message):
        result = run_binary('train', *flags, '--workdir=/nonexistent/never_written')
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertEqual(result.stderr.splitlines(), [f'tfglow-train: error: {message}'])

    def test_missing_config_file(self):
        result = run_binary('train', '--config=configs/nope.py', '--workdir=/nonexistent/x')
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertRegex(
            result.stderr.splitlines()[-1],
            r"^tfglow-train: error: config file 'configs/nope.py' not found; configs in .*: "
            r'.*fashion_mnist_glow.py',
        )
        self.assertNotIn('Traceback', result.stderr)


@pytest.mark.slow
class ResumeConfigTest(tf.test.TestCase):
    """Resuming never trains under a config other than the one config.json records."""

    def test_changed_config_is_refused_unless_allowed(self):
        workdir = tempfile.mkdtemp(dir=self.get_temp_dir())
        flags = [
            f'--config={train_helpers.SMOKE_CONFIG}',
            f'--workdir={workdir}',
            '--config.num_eval_examples=8',
            '--config.eval_batch_size=8',
            '--config.num_samples=2',
            '--config.sample_temperatures=(0.7,)',
        ]
        first = run_binary('train', *flags, '--config.num_train_steps=2')
        self.assertEqual(first.returncode, 0, first.stderr)
        config_path = os.path.join(workdir, 'config.json')
        with open(config_path) as f:
            saved = f.read()

        for override, message in (
            (
                '--config.batch_size=4',
                'the config differs from the one the run was trained with (checkpoint at step '
                '2): batch_size 8 -> 4; use a new --workdir, or pass --allow_config_change to '
                'resume with these changes',
            ),
            (
                '--config.num_train_steps=1',
                'the run is already at step 2, past num_train_steps=1: nothing to train (raise '
                'num_train_steps to continue it)',
            ),
        ):
            refused = run_binary('train', *flags, override)
            self.assertEqual(refused.returncode, 1, refused.stderr)
            self.assertEqual(refused.stderr.splitlines()[-1], f'tfglow-train: error: {message}')
            self.assertNotIn('Traceback', refused.stderr)
            with open(config_path) as f:
                self.assertEqual(f.read(), saved)
        self.assertFalse(os.path.exists(os.path.join(workdir, 'config_history.json')))

        accepted = run_binary(
            'train',
            *flags,
            '--config.batch_size=4',
            '--config.num_train_steps=3',
            '--allow_config_change',
        )
        self.assertEqual(accepted.returncode, 0, accepted.stderr)
        self.assertIn(
            'Resuming at step 2 with config changes: batch_size 8 -> 4, num_train_steps 2 -> 3.',
            accepted.stderr,
        )
        with open(config_path) as f:
            self.assertEqual(json.load(f)['batch_size'], 4)
        with open(os.path.join(workdir, 'config_history.json')) as f:
            self.assertEqual(
                json.load(f),
                [{'step': 2, 'changes': {'batch_size': [8, 4], 'num_train_steps': [2, 3]}}],
            )


if __name__ == '__main__':
    tf.test.main()
