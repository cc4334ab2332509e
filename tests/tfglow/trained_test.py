"""tfglow.trained: a workdir's checkpoints, and restoring a run with its EMA weights."""

import os
import shutil
import tempfile

import tensorflow as tf

from tests.tfglow import export_helpers
from tfglow import config_lib, trained
from tfglow.models import glow


class ResolveCheckpointTest(tf.test.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.workdir = export_helpers.trained_workdir()

    def test_names(self):
        last = export_helpers.TRAIN_STEPS
        checkpoints = os.path.join(self.workdir, 'checkpoints')
        resolve = lambda name: trained.resolve_checkpoint(self.workdir, name)
        self.assertEqual(resolve(None), os.path.join(checkpoints, f'ckpt-{last}'))
        self.assertEqual(resolve('latest'), resolve(None))
        self.assertEqual(resolve('best'), os.path.join(self.workdir, 'best', f'ckpt-{last}'))
        self.assertEqual(resolve(100), os.path.join(checkpoints, 'ckpt-100'))
        self.assertEqual(resolve('200'), os.path.join(checkpoints, 'ckpt-200'))
        self.assertEqual(resolve(checkpoints), resolve(None))
        self.assertEqual(resolve(resolve(100)), resolve(100))

    def test_missing(self):
        with self.assertRaisesRegex(
            FileNotFoundError, 'no checkpoint for step 7 .*found: step 100, step 200, step 300'
        ):
            trained.resolve_checkpoint(self.workdir, 7)
        with self.assertRaisesRegex(FileNotFoundError, 'neither a checkpoint directory nor'):
            trained.resolve_checkpoint(self.workdir, '/nonexistent/ckpt-1')
        empty = self.get_temp_dir()
        with self.assertRaisesRegex(FileNotFoundError, 'no checkpoint in .*train with'):
            trained.resolve_checkpoint(empty)


class LoadTrainedGlowTest(tf.test.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.workdir = export_helpers.trained_workdir()

    def test_restores_ema_weights_of_the_chosen_checkpoint(self):
        restored = trained.load_trained_glow(self.workdir, 200)
        self.assertEqual(restored.step, 200)
        self.assertEqual(restored.latent_size, 28 * 28)
        self.assertEqual(restored.latent_shapes, ((14, 14, 2), (7, 7, 8)))
        self.assertEqual(restored.num_classes, 0)
        reader = tf.train.load_checkpoint(restored.checkpoint)
        shadow = reader.get_tensor('ema/shadows/0/.ATTRIBUTES/VARIABLE_VALUE')
        self.assertAllEqual(restored.model.trainable_variables[0], shadow)
        # The last step's raw weights differ: the average, not the raw weights, was loaded.
        raw = glow.build_model(restored.config.model, (28, 28, 1))
        tf.train.Checkpoint(model=raw).restore(restored.checkpoint).expect_partial()
        self.assertNotAllEqual(raw.trainable_variables[0], shadow)

    def test_errors(self):
        with self.assertRaisesRegex(FileNotFoundError, 'no training run in .*no config.json'):
            trained.load_trained_glow(self.get_temp_dir())
        # A config edited after training no longer matches the checkpoint.
        workdir = tempfile.mkdtemp(dir=self.get_temp_dir())
        shutil.copytree(
            os.path.join(self.workdir, 'checkpoints'), os.path.join(workdir, 'checkpoints')
        )
        config = config_lib.read_config(self.workdir)
        config.model.hidden_width = 8
        config_lib.write_config(config, workdir)
        with self.assertRaisesRegex(ValueError, 'does not match the model built from'):
            trained.load_trained_glow(workdir)


class RestoreRunTest(tf.test.TestCase):
    def test_any_family_gets_the_ema_weights(self):
        workdir = export_helpers.untrained_workdir('configs/omniglot_attention_pixelcnn.py:smoke')
        run = trained.restore_run(workdir)
        self.assertEqual(run.family, 'attention_pixelcnn')
        self.assertEqual(run.step, export_helpers.UNTRAINED_STEP)
        reader = tf.train.load_checkpoint(run.checkpoint)
        for index, variable in enumerate(run.model.trainable_variables):
            shadow = reader.get_tensor(f'ema/shadows/{index}/.ATTRIBUTES/VARIABLE_VALUE')
            self.assertAllEqual(variable, shadow)
        with self.assertRaisesRegex(ValueError, "only config.model.name 'glow'"):
            trained.TrainedGlow(run)
        with self.assertRaisesRegex(FileNotFoundError, 'does not exist'):
            trained.restore_run(os.path.join(workdir, 'missing'))


if __name__ == '__main__':
    tf.test.main()
