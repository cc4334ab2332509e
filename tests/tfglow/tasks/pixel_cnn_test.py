"""PixelCNNTask: exact NLL from pixel levels, labels when class-conditional, sample grids."""

import math

import numpy as np
import tensorflow as tf

from tfglow import config_lib, data, tasks


class _RecordingModel(tf.Module):
    """log p(x) = -sum(x): records the levels and kwargs it was called with."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def log_prob(self, levels, **kwargs):
        self.calls.append((levels, kwargs))
        return -tf.cast(tf.reduce_sum(levels, axis=[1, 2, 3]), tf.float32)


def _task(spec: str) -> tasks.PixelCNNTask:
    config = config_lib.load_config(spec)
    return tasks.get_task(config, data.DataInfo((28, 28, 1), 10, {'test': 100}))


class PixelCNNTaskTest(tf.test.TestCase):
    def test_loss_is_the_exact_nll_of_the_levels(self):
        task = _task('configs/fashion_mnist_pixelcnn.py:smoke')
        model = task.build_model()
        images = np.random.default_rng(0).integers(0, 256, (2, 28, 28, 1), dtype=np.uint8)
        batch = {'image': tf.constant(images), 'label': tf.constant([3, 4])}
        loss, metrics = task.loss(model, batch)
        nats = -model.log_prob(tf.constant(images, tf.int32))
        self.assertAllClose(metrics['nats_per_image'], nats)
        self.assertAllClose(loss, nats / (784 * math.log(2.0)))
        self.assertAllClose(metrics['bits_per_dim'], loss)

    def test_binary_levels_and_labels_reach_the_model(self):
        task = _task('configs/omniglot_attention_pixelcnn.py:pixelcnn,smoke')
        model = _RecordingModel()
        images = np.zeros((1, 28, 28, 1), np.uint8)
        images[0, :2, :2] = 255
        _, metrics = task.loss(model, {'image': tf.constant(images), 'label': tf.constant([5])})
        levels, kwargs = model.calls[-1]
        self.assertEqual(kwargs, {})
        self.assertAllEqual(tf.reduce_max(levels), 1)
        self.assertAllClose(metrics['nats_per_image'], [4.0])

        conditional = _task('configs/fashion_mnist_pixelcnn.py:class_conditional,smoke')
        conditional.loss(model, {'image': tf.constant(images), 'label': tf.constant([5])})
        self.assertAllEqual(model.calls[-1][1]['label'], [5])

    def test_class_conditional_grid_has_a_row_per_class(self):
        task = _task('configs/fashion_mnist_pixelcnn.py:class_conditional,smoke')
        grids = task.sample_grids(task.build_model())
        self.assertEqual(list(grids), [1.0])
        # 10 classes, ceil(4 / 10) = 1 sample each.
        self.assertEqual(grids[1.0].shape, (10 * 29 + 1, 29 + 1, 1))
        self.assertEqual(grids[1.0].dtype, np.uint8)


if __name__ == '__main__':
    tf.test.main()
