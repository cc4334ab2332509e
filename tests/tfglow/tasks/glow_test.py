"""GlowTask: sample grids show pixels as the exports do (tfglow.pixels); counted eval batches."""

import numpy as np
import tensorflow as tf

from tfglow import config_lib, data, pixels, tasks


class _ConstantModel(tf.Module):
    """Samples every sub-pixel at the flow value `value`."""

    def __init__(self, value: float):
        super().__init__()
        self.value = value

    def sample(self, num, temperature, label=None, seed=None):
        del temperature, label, seed
        return tf.fill([num, 28, 28, 1], self.value)


class GlowTaskTest(tf.test.TestCase):
    def test_sample_grids_use_the_export_pixel_map(self):
        config = config_lib.load_config('configs/fashion_mnist_glow.py:smoke')
        config.model.n_bits_x = 1
        task = tasks.get_task(config, data.DataInfo((28, 28, 1), 10, {'test': 100}))
        # The top bin of 1-bit images: 255 as in the data and the exports (openai/glow's
        # postprocess shows it as 128).
        grids = task.sample_grids(_ConstantModel(0.4))
        top = pixels.flow_to_uint8(tf.constant(0.4), 1).numpy()
        self.assertEqual(top, 255)
        for grid in grids.values():
            self.assertEqual(grid.dtype, np.uint8)
            self.assertEqual(grid.max(), top)

    def test_evaluation_batches_are_counted_for_progress(self):
        config = config_lib.load_config('configs/fashion_mnist_glow.py:smoke')
        config.num_eval_examples, config.eval_batch_size = 250, 100
        info = data.DataInfo((28, 28, 1), 10, {config.data.eval_split: 10000})
        dataset = tasks.get_task(config, info).eval_images()
        self.assertEqual(int(dataset.cardinality()), 3)
        self.assertEqual(sum(len(batch['image']) for batch in dataset), 250)


if __name__ == '__main__':
    tf.test.main()
