"""Tests for tfglow.train that run in this process (the binary is tested in main_test.py)."""

import json
import math
import os
import signal
import sys
from unittest import mock

import numpy as np
import pytest
import tensorflow as tf

import tfp_flows.dequantization as dq
from tests.tfglow import train_helpers
from tfglow import config_lib, data, tasks, train
from tfglow.tasks import glow as glow_task


def _smoke_config(**overrides):
    config = config_lib.load_config(train_helpers.SMOKE_CONFIG)
    config.update(overrides)
    return config


def _checkpoint_values(path: str) -> dict[str, np.ndarray]:
    reader = tf.train.load_checkpoint(path)
    return {
        name: reader.get_tensor(name)
        for name in reader.get_variable_to_shape_map()
        if not name.startswith('_CHECKPOINTABLE_OBJECT_GRAPH')
    }


def _poisoning(real_loss, bad_calls: set[int], all_bad_from: int):
    """Wraps `glow_loss`: on training call n (1-based), non-finite gradients if n is in
    `bad_calls`, and a NaN loss from call `all_bad_from` on."""
    calls = tf.Variable(0)
    bad = tf.constant(sorted(bad_calls))

    def glow_loss(model, batch, n_bits, **kwargs):
        loss, bits_x = real_loss(model, batch, n_bits, **kwargs)
        call = calls.assign_add(1)
        poison_gradient = tf.reduce_any(tf.equal(bad, call))

        @tf.custom_gradient
        def poison(x):
            def grad(dy):
                return tf.where(poison_gradient, tf.fill(tf.shape(dy), np.inf), dy)

            return tf.identity(x), grad

        loss = poison(loss)
        loss = loss * tf.where(call >= all_bad_from, np.nan, 1.0)
        return loss, bits_x

    return glow_loss


class EtaTest(tf.test.TestCase):
    def test_includes_the_evaluations_to_come(self):
        config = _smoke_config(num_train_steps=1000, eval_every_steps=500)
        # 900 steps of 0.1 s, then the evaluations at 500 and at the end, 47 s each.
        self.assertEqual(train._eta(config, 100, 0.1, 47.0), '0:03:04')
        # Step 500's evaluation runs after its progress line: still to come.
        self.assertEqual(train._eta(config, 500, 0.1, 47.0), '0:02:24')
        self.assertEqual(train._eta(config, 501, 0.1, 47.0), '0:01:36')
        self.assertEqual(train._eta(config, 1000, 0.1, 47.0), '0:00:47')
        self.assertEqual(
            train._eta(config, 100, 0.1, None), '0:01:30 + 2 evaluation(s) not yet timed'
        )


class GlowLossTest(tf.test.TestCase):
    def _model_and_batch(self, class_conditional: bool):
        from tfglow.models import glow

        config = _smoke_config()
        config.model.class_conditional = class_conditional
        model = glow.build_model(config.model, (28, 28, 1), 10, seed=0)
        rng = np.random.default_rng(0)
        batch = {
            'image': tf.constant(rng.integers(0, 256, (4, 28, 28, 1), dtype=np.uint8)),
            'label': tf.constant([0, 1, 2, 3], tf.int32),
            'noise': tf.constant(rng.uniform(size=(4, 28, 28, 1)), tf.float32),
        }
        x = dq.dequantize(dq.preprocess(batch['image']), noise=batch['noise'])
        model.initialize(x, label=batch['label'] if class_conditional else None)
        return model, batch

    def test_unconditional_loss_is_bits_per_dim(self):
        model, batch = self._model_and_batch(class_conditional=False)
        loss, bits_x = glow_task.glow_loss(model, batch, 8, class_conditional=False, weight_y=0.0)
        x = dq.dequantize(dq.preprocess(batch['image']), noise=batch['noise'])
        self.assertAllClose(bits_x, dq.bits_per_dim(model.log_prob(x), 28 * 28))
        self.assertAllEqual(loss, bits_x)

    def test_class_loss_in_bits(self):
        model, batch = self._model_and_batch(class_conditional=True)
        loss, bits_x = glow_task.glow_loss(model, batch, 8, class_conditional=True, weight_y=0.5)
        # The class head starts at zero: uniform over 10 classes, log2(10) bits.
        self.assertAllClose(loss - bits_x, [0.5 * math.log2(10)] * 4, rtol=1e-5)
        x = dq.dequantize(dq.preprocess(batch['image']), noise=batch['noise'])
        expected = dq.bits_per_dim(model.log_prob(x, label=batch['label']), 28 * 28)
        self.assertAllClose(bits_x, expected, rtol=1e-5)


class TrainDatasetTest(tf.test.TestCase):
    def test_resume_skips_exactly_the_consumed_batches(self):
        config = _smoke_config()
        context = tf.distribute.InputContext()
        task = tasks.get_task(config, data.get_info(config.data))
        from_start = list(task.train_dataset(context, 0).take(4))
        resumed = next(iter(task.train_dataset(context, 3)))
        for key in ('image', 'label', 'noise'):
            self.assertAllEqual(resumed[key], from_start[3][key])
        self.assertNotAllClose(from_start[0]['noise'], from_start[1]['noise'])
        self.assertEqual(from_start[0]['image'].shape[0], config.batch_size)


class NonFiniteGuardTest(tf.test.TestCase):
    def test_check_finite_refuses(self):
        variables = [tf.Variable([1.0, 2.0]), tf.Variable([np.nan], name='broken')]
        with self.assertRaisesRegex(train.NonFiniteLossError, 'Refusing.*broken'):
            train._check_finite(variables, step=7)

    @pytest.mark.slow
    def test_bad_steps_are_skipped_then_training_stops_at_a_sound_checkpoint(self):
        workdir = self.get_temp_dir()
        config = _smoke_config(
            num_train_steps=20,
            max_consecutive_bad_steps=3,
            checkpoint_every_steps=2,
            eval_every_steps=100,
            keep_checkpoints=5,
        )
        # Steps 3 and 4: infinite gradients; from step 8: NaN loss, so steps 8, 9, 10 stop it.
        glow_loss = _poisoning(glow_task.glow_loss, bad_calls={3, 4}, all_bad_from=8)
        checkpoint_dir = os.path.join(workdir, 'checkpoints')
        with (
            mock.patch.object(glow_task, 'glow_loss', glow_loss),
            self.assertLogs('absl', 'WARNING') as logs,
            self.assertRaisesRegex(
                train.NonFiniteLossError,
                'Stopping at step 10: 3 consecutive steps .* non-finite .* after the update of '
                r'step 7 \(removed its checkpoint\(s\) ckpt-8\); a rerun resumes from '
                f'{checkpoint_dir}/ckpt-6, the last checkpoint whose weights gave a finite loss',
            ),
        ):
            train.train_and_evaluate(config, workdir)
        skipped = [line for line in logs.output if 'update skipped' in line]
        self.assertLen(skipped, 5)
        self.assertIn('step 3: non-finite loss or gradients', skipped[0])

        # ckpt-4 was not written (no update since ckpt-2); ckpt-8 held the weights of step 7,
        # which gave only NaN losses after it, and was removed.
        names = sorted(n for n in os.listdir(checkpoint_dir) if n.endswith('.index'))
        self.assertEqual(names, [f'ckpt-{s}.index' for s in (2, 6)])
        self.assertEqual(tf.train.latest_checkpoint(checkpoint_dir), f'{checkpoint_dir}/ckpt-6')
        for name in names:
            values = _checkpoint_values(os.path.join(checkpoint_dir, name[: -len('.index')]))
            for key, value in values.items():
                if np.issubdtype(np.asarray(value).dtype, np.floating):
                    self.assertTrue(np.all(np.isfinite(value)), f'{name}: {key}')
        last = _checkpoint_values(os.path.join(checkpoint_dir, 'ckpt-6'))
        iterations = [
            v for k, v in last.items() if k.startswith('optimizer/') and 'iterations' in k
        ]
        # Steps 1, 2, 5 and 6 updated the weights; 3 and 4 were skipped.
        self.assertEqual(iterations, [4])
        self.assertEqual(last['bad_steps/.ATTRIBUTES/VARIABLE_VALUE'], 2)
        self.assertEqual(last['step/.ATTRIBUTES/VARIABLE_VALUE'], 6)

    @pytest.mark.slow
    def test_a_diverged_run_leaves_no_poisoned_checkpoint(self):
        workdir = self.get_temp_dir()
        overrides = dict(num_train_steps=8, max_consecutive_bad_steps=3, eval_every_steps=100)
        # Step 1's update is accepted (its loss, before the update, is finite) and makes every
        # later loss NaN: no checkpoint had a finite step after it.
        with self.assertRaisesRegex(
            train.NonFiniteLossError,
            r'after the update of step 1 \(removed its checkpoint\(s\) ckpt-2\); no checkpoint '
            'whose weights gave a finite loss after it is left, so a rerun starts from scratch',
        ):
            train.train_and_evaluate(_smoke_config(learning_rate=1e4, **overrides), workdir)
        self.assertIsNone(tf.train.latest_checkpoint(os.path.join(workdir, 'checkpoints')))
        # As the message advises: a sane learning rate trains.
        results = train.train_and_evaluate(_smoke_config(**overrides), workdir)
        self.assertEqual(results['bad_steps'], 0)
        self.assertTrue(math.isfinite(results['eval_bits_per_dim']))


@pytest.mark.slow
class FaultTest(tf.test.TestCase):
    """`kill -9` at random steps, then a rerun: the same final result as an uninterrupted run."""

    OVERRIDES = {
        'num_train_steps': 10,
        'checkpoint_every_steps': 2,
        'eval_every_steps': 5,
        'num_eval_examples': 8,
        'eval_batch_size': 8,
        'num_samples': 2,
        'sample_temperatures': (0.7,),
    }

    def _run_until_killed(self, workdir: str, kill_step: int) -> None:
        """Runs training in a fresh process; SIGKILLs it once it logs step `kill_step`."""
        overrides = [f'{key}={value!r}' for key, value in self.OVERRIDES.items()]

        def kill_at_step(line, process):
            if f'step {kill_step}/' in line:
                process.kill()

        process, log = train_helpers.watch(
            [sys.executable, '-m', 'tests.tfglow.train_helpers', 'train']
            + [train_helpers.SMOKE_CONFIG, workdir, *overrides],
            kill_at_step,
        )
        self.assertEqual(process.returncode, -signal.SIGKILL, log)

    def test_killed_runs_resume_bit_identically(self):
        config = _smoke_config(**self.OVERRIDES)
        reference_dir = os.path.join(self.get_temp_dir(), 'reference')
        reference = train.train_and_evaluate(config, reference_dir)

        workdir = os.path.join(self.get_temp_dir(), 'killed')
        kill_steps = sorted(np.random.default_rng(2).choice(range(2, 10), 2, replace=False))
        for kill_step in kill_steps:
            self._run_until_killed(workdir, int(kill_step))
        # The last run, to the end, in this process (one TensorFlow start less).
        with self.assertLogs('absl', 'INFO') as logs:
            self.assertEqual(train.train_and_evaluate(config, workdir), reference)
        self.assertTrue(any('skipping the data-dependent init' in line for line in logs.output))
        final = _checkpoint_values(os.path.join(workdir, 'checkpoints', 'ckpt-10'))
        expected = _checkpoint_values(os.path.join(reference_dir, 'checkpoints', 'ckpt-10'))
        self.assertEqual(sorted(final), sorted(expected))
        for name, value in expected.items():
            self.assertAllEqual(final[name], value, msg=name)


@pytest.mark.slow
class ClassConditionalTrainingTest(tf.test.TestCase):
    def test_trains_with_class_loss_and_one_sample_row_per_class(self):
        workdir = self.get_temp_dir()
        config = _smoke_config(num_train_steps=2, eval_every_steps=100, grad_clip_norm=1.0)
        config.model.class_conditional = True
        config.model.weight_y = 0.01
        config.sample_temperatures = (0.7,)
        config.sample_upscale = 2
        results = train.train_and_evaluate(config, workdir)
        self.assertEqual(results['step'], 2)
        self.assertTrue(math.isfinite(results['eval_bits_per_dim']))
        with open(os.path.join(workdir, 'eval_results.json')) as f:
            self.assertEqual(json.load(f), results)
        grid = tf.io.decode_png(tf.io.read_file(os.path.join(workdir, 'samples_T0.7.png')))
        # 10 classes, one per row; ceil(num_samples / 10) = 1 column of 28x28 images, upscaled 2x.
        self.assertEqual(grid.shape, (2 * (10 * 29 + 1), 2 * (29 + 1), 1))


if __name__ == '__main__':
    tf.test.main()
