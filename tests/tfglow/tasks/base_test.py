"""The task registry and the helpers the tasks share."""

import math

import numpy as np
import tensorflow as tf

from tfglow import config_lib, data, tasks
from tfglow.tasks import base


class RegistryTest(tf.test.TestCase):
    def test_every_model_name_has_a_task(self):
        self.assertEqual(tuple(tasks.TASKS), config_lib.MODEL_NAMES)
        info = data.DataInfo(image_shape=(28, 28, 1), num_classes=10, split_sizes={})
        for name, task_class in tasks.TASKS.items():
            task = tasks.get_task(config_lib.base_config(name), info)
            self.assertIsInstance(task, task_class)
            self.assertIn('bits_per_dim', task.metric_names)
            self.assertEqual(task.num_dims, 784)
        self.assertEqual(tasks.FewShotGlowTask.example_unit, 'episodes')

    def test_unknown_name(self):
        config = config_lib.base_config()
        config.model.name = 'realnvp'
        with self.assertRaisesRegex(ValueError, r"name 'realnvp'; expected one of glow, pixelcnn"):
            tasks.get_task(config, data.DataInfo((28, 28, 1), 10, {}))


class HelpersTest(tf.test.TestCase):
    def test_nats_metrics(self):
        nats = tf.constant([784 * math.log(2.0), 0.0])
        loss, metrics = base.nats_metrics(nats, 784)
        self.assertAllClose(loss, [1.0, 0.0])
        self.assertAllClose(metrics['bits_per_dim'], loss)
        self.assertAllClose(metrics['nats_per_image'], nats)

    def test_grid_layout(self):
        self.assertEqual(base.grid_layout(16), (4, 4))
        self.assertEqual(base.grid_layout(5), (2, 3))
        self.assertEqual(base.grid_layout(20, num_classes=10), (10, 2))
        self.assertEqual(base.grid_layout(4, num_classes=964), (10, 1))

    def test_support_grid_rows(self):
        support = np.full((2, 3, 4, 4, 1), 255, np.uint8)
        samples = np.full((2, 2, 4, 4, 1), 128, np.uint8)
        grid = base.support_grid(support, samples)
        # Two rows of 3 support + 1 blank + 2 sample cells of 4 + 1 padding pixels.
        self.assertEqual(grid.shape, (2 * 5 + 1, 6 * 5 + 1, 1))
        self.assertEqual(grid[1, 1, 0], 255)
        self.assertEqual(grid[1, 3 * 5 + 1, 0], 0)  # the blank cell
        self.assertEqual(grid[1, 4 * 5 + 1, 0], 128)

    def test_noise_is_indexed_by_batch_position(self):
        dataset = tf.data.Dataset.from_tensors({'image': tf.zeros([2, 3])}).repeat(4)
        seed = base.noise_seed(0, base.TRAIN_NOISE_STREAM)
        whole = list(base.add_uniform_noise(dataset, 'image', seed, 0))
        resumed = list(base.add_uniform_noise(dataset.skip(2), 'image', seed, 2))
        self.assertAllEqual(resumed[0]['noise'], whole[2]['noise'])
        self.assertNotAllClose(whole[0]['noise'], whole[1]['noise'])
        samples = next(iter(base.add_uniform_noise(dataset, 'image', seed, 0, samples=3)))
        self.assertEqual(samples['noise'].shape, (2, 3, 3))


if __name__ == '__main__':
    tf.test.main()
