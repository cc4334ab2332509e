"""`tfglow-fewshot-eval` end to end on a tiny FewShotGlow trained for two steps on real Omniglot."""

import glob
import json
import os
import subprocess

import ml_collections
import numpy as np
import tensorflow as tf
from absl import flags
from absl.testing import flagsaver

import tfp_flows
import tfp_flows.dequantization as dq
from tests.tools.run_binary import run_binary
from tfglow import config_lib, data, trained
from tfglow.data import episodic, omniglot
from tfglow.ema import ExponentialMovingAverage
from tfglow.fewshot import adapters, restore
from tfglow.models import fewshot
from tfglow.tools import fewshot_eval as tool
from tfp_flows import testing

N_BITS = 1
OMNIGLOT_DIR = next(
    d for d in omniglot.search_dirs() if os.path.isfile(os.path.join(d, 'test_small.npz'))
)


def _config() -> ml_collections.ConfigDict:
    """The keys of a fewshot_glow run's config.json that evaluation reads."""
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.ema_decay = 0.9
    config.data = ml_collections.ConfigDict(
        dict(
            source='omniglot_npz',
            name='omniglot',
            path='',  # Found in ../shared/data/omniglot.
            image_size=0,
            train_split='train',
            eval_split='test',
            shuffle_buffer=100,
        )
    )
    config.model = ml_collections.ConfigDict(
        dict(
            name='fewshot_glow',
            num_levels=2,
            steps_per_level=1,
            hidden_width=8,
            permutation='invconv',
            coupling='affine',
            learn_top=False,
            context='spatial',
            context_channels=4,
            encoder_width=8,
            pooling='attention',
            num_heads=2,
            n_bits_x=N_BITS,
        )
    )
    return config


def _write_workdir(workdir: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Trains two steps and saves a checkpoint the way tfglow.train does.

    The checkpoint (`tfglow.trained.training_checkpoint`) holds model, EMA, step, optimizer and
    the trainer's other counters, written by a CheckpointManager to
    `workdir/checkpoints/ckpt-<step>`.

    Returns:
      The EMA weights and the raw weights, in `model.trainable_variables` order.
    """
    config = _config()
    config_lib.write_config(config, workdir)
    class_arrays = data.load_class_arrays(config.data, 'train')
    # A few classes are enough for two steps; the loader only needs the layout.
    class_arrays = dict(list(class_arrays.items())[:20])
    batches = episodic.make_episodes(class_arrays, batch_size=8, k_min=1, k_max=5, seed=0)
    model = fewshot.build_fewshot_model(config.model, (28, 28, 1), seed=0)
    optimizer = tf.keras.optimizers.Adam(1e-3)
    optimizer.build(model.trainable_variables)
    ema = ExponentialMovingAverage(model.trainable_variables, config.ema_decay)
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name='step')

    def inputs(batch, index):
        x = dq.dequantize(dq.preprocess(batch['target'], N_BITS), N_BITS, seed=[0, index])
        support = dq.preprocess(batch['support'], N_BITS)
        return x, dict(support=support, support_mask=batch['support_mask'])

    for index, batch in enumerate(batches.take(3)):
        x, conditioning = inputs(batch, index)
        if index == 0:
            model.initialize(x, **conditioning)
            ema.reset()
            continue
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(model.log_prob(x, **conditioning))
        optimizer.apply_gradients(
            zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
        )
        ema.update()
        step.assign_add(1)
    checkpoint = trained.training_checkpoint(
        model,
        ema,
        step,
        optimizer=optimizer,
        bad_steps=tf.Variable(0, dtype=tf.int64),
        best_bits_per_dim=tf.Variable(1e30, dtype=tf.float64),
    )
    manager = tf.train.CheckpointManager(
        checkpoint, os.path.join(workdir, 'checkpoints'), max_to_keep=3, step_counter=step
    )
    manager.save(checkpoint_number=int(step.numpy()))
    return [s.numpy() for s in ema.shadows], [v.numpy() for v in model.trainable_variables]


def _run(args: list[str]) -> subprocess.CompletedProcess:
    return run_binary('fewshot_eval', *args)


class FewShotEvalBinaryTest(tf.test.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.workdir = os.path.join(tf.compat.v1.test.get_temp_dir(), 'fewshot_run')
        cls.ema_weights, cls.raw_weights = _write_workdir(cls.workdir)

    def test_runs_end_to_end_on_real_omniglot(self):
        output_dir = os.path.join(self.get_temp_dir(), 'eval')
        result = _run(
            [
                f'--workdir={self.workdir}',
                f'--output_dir={output_dir}',
                '--ks=1,2',
                '--max_classes=3',
                '--analyses=sweep,classification,specificity,sampling,fidelity',
                '--ways=5',
                '--shots=1',
                '--episodes=2',
                '--episode_classes=cross_alphabet,within_alphabet',
                '--fidelity_ways=5',
                '--fidelity_episodes=2',
                '--fidelity_temperatures=0.5',
                '--feature_epochs=1',
                '--noise_samples=2',
                '--sample_sets=2',
                '--sample_shots=2',
                '--samples_per_set=2',
                '--batch_size=32',
                f'--data_path={OMNIGLOT_DIR}',
            ]
        )
        self.assertEqual(result.returncode, 0, result.stderr[-3000:])
        self.assertIn('| 2 |', result.stdout)
        self.assertIn('5-way 1-shot | any alphabet', result.stdout)
        self.assertIn('5-way 1-shot | one alphabet', result.stdout)
        self.assertIn('another class, same alphabet', result.stdout)
        self.assertIn('| 0.5 ', result.stdout)  # Sample fidelity at T = 0.5 and 1.
        self.assertIn('dequantized_iw', result.stdout)
        with open(os.path.join(output_dir, 'results.json')) as f:
            results = json.load(f)
        self.assertEqual(results['metadata']['step'], 2)
        self.assertEqual(results['metadata']['split'], 'test')
        self.assertEqual(results['num_classes'], 659)  # Omniglot's evaluation alphabets.
        self.assertEqual(results['model']['num_bins'], 2)
        for row in results['sweep']['conditional']:
            self.assertLessEqual(
                row['dequantized_iw']['nats_per_image'], row['dequantized']['nats_per_image']
            )
        self.assertEqual(results['sampling']['support_sizes'], [2, 4])
        # The fidelity classifier learned the 964 training (background) classes only.
        self.assertEqual(results['metadata']['feature_extractor']['num_classes'], 964)
        self.assertLen(results['plots'], 2)
        for path in results['plots'] + results['fidelity']['files']:
            self.assertTrue(os.path.isfile(path), path)
        self.assertLen(glob.glob(os.path.join(output_dir, 'samples', 'set*.png')), 2)
        self.assertNotEmpty(glob.glob(os.path.join(output_dir, 'events.out.tfevents.*')))

    def test_too_large_k_ends_with_a_clear_message(self):
        # In process (the end-to-end test above runs the real binary): main() exits with the
        # message, as `app.run` would print it.
        flags.FLAGS.mark_as_parsed()
        with flagsaver.flagsaver(
            workdir=self.workdir, output_dir=self.get_temp_dir(), analyses=['sweep'], ks=['5', '20']
        ):
            with self.assertRaises(SystemExit) as exit_info:
                tool.main(['tfglow-fewshot-eval'])
        self.assertStartsWith(
            str(exit_info.exception.code),
            'tfglow-fewshot-eval: error: K=20 needs 21 images per class',
        )

    def test_load_workdir_restores_the_ema_weights(self):
        loaded = restore.load_workdir(self.workdir, num_noise_samples=2)
        self.assertEqual(loaded.step, 2)
        self.assertTrue(loaded.checkpoint.endswith('ckpt-2'))
        self.assertTrue(loaded.adapter.takes_support)
        self.assertEqual(loaded.adapter.num_bins, 2**N_BITS)
        restored = [v.numpy() for v in loaded.adapter.model.trainable_variables]
        for variable, expected in zip(restored, self.ema_weights, strict=True):
            self.assertAllEqual(variable, expected)
        # The averaged weights, not the raw ones.
        self.assertFalse(all(np.array_equal(a, b) for a, b in zip(restored, self.raw_weights)))

    def test_load_workdir_builds_an_attention_pixel_cnn(self):
        workdir = os.path.join(self.get_temp_dir(), 'attention_pixelcnn')
        config = _config()
        options = dict(
            output='bernoulli',
            num_layers=2,
            hidden_width=8,
            num_mixtures=10,
            num_heads=1,
            key_width=4,
            value_width=4,
            encoder_width=4,
            encoder_layers=1,
        )
        config.model = ml_collections.ConfigDict(dict(name='attention_pixelcnn', n_bits_x=1))
        config.model.update(options)
        config_lib.write_config(config, workdir)
        model = tfp_flows.AttentionPixelCNN((28, 28, 1), seed=5, **options)
        ema = ExponentialMovingAverage(model.trainable_variables, 0.9)
        testing.perturb_variables(model, 0.1)
        ema.reset()
        step = tf.Variable(7, dtype=tf.int64)
        checkpoint = trained.training_checkpoint(model, ema, step)
        tf.train.CheckpointManager(checkpoint, os.path.join(workdir, 'checkpoints'), 1).save(7)

        loaded = restore.load_workdir(workdir)
        self.assertIsInstance(loaded.adapter, adapters.PixelCNNAdapter)
        self.assertEqual((loaded.step, loaded.adapter.num_bins), (7, 2))
        images = data.load_class_arrays(config.data, 'test')['Angelic/character01']
        expected = model.log_prob(
            (images[:2] >= 128).astype(np.int32),
            support=(images[None, 2:5] >= 128).astype(np.int32),
        )
        support = np.broadcast_to(images[None, 2:5], (2, 3, 28, 28, 1))
        scores = loaded.adapter.log_prob_discrete(images[:2], support)
        self.assertAllClose(scores['exact'], expected, rtol=1e-5)

    def test_load_errors(self):
        missing = os.path.join(self.get_temp_dir(), 'missing')
        with self.assertRaisesRegex(FileNotFoundError, 'does not exist'):
            restore.load_workdir(missing)
        empty = os.path.join(self.get_temp_dir(), 'untrained')
        config_lib.write_config(_config(), empty)
        with self.assertRaisesRegex(FileNotFoundError, 'no checkpoint'):
            restore.load_workdir(empty)
        other = os.path.join(self.get_temp_dir(), 'other_model')
        config = _config()
        config.model.name = 'some_new_model'
        config_lib.write_config(config, other)
        with self.assertRaisesRegex(ValueError, "Unknown config.model.name 'some_new_model'"):
            restore.load_workdir(other)


if __name__ == '__main__':
    tf.test.main()
