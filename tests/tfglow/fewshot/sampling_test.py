"""tfglow.fewshot.sampling: refined sampling grows the support; grids."""

import numpy as np
import tensorflow as tf

from tests.tfglow.fewshot.helpers import (
    GLOW_SHAPE,
    PIXEL_SHAPE,
    NearestSupport,
    few_shot_glow,
    uint8_images,
)
from tfglow.fewshot import adapters, sampling


class SamplingTest(tf.test.TestCase):
    def test_refined_sampling_grows_the_support(self):
        model = NearestSupport()
        support = uint8_images((3, 2, *PIXEL_SHAPE))
        refined = sampling.refined_sampling(model, support, num_samples=3, rounds=3)
        self.assertEqual(refined['support_sizes'], [2, 5, 8])
        self.assertEqual(model.sample_support_sizes, [2, 5, 8])
        self.assertEqual(refined['samples'].shape, (3, 3, 3, *PIXEL_SHAPE))

    def test_refined_sampling_with_a_few_shot_glow(self):
        model = adapters.as_adapter(few_shot_glow(), n_bits=3)
        refined = sampling.refined_sampling(
            model,
            uint8_images((2, 2, *GLOW_SHAPE)),
            num_samples=2,
            rounds=2,
            temperature=0.5,
            seed=3,
        )
        self.assertEqual(refined['samples'].shape, (2, 2, 2, *GLOW_SHAPE))
        self.assertEqual(refined['samples'].dtype, np.uint8)

    def test_grid_rows_show_the_support_beside_each_rounds_samples(self):
        support = uint8_images((2, *PIXEL_SHAPE))
        samples = uint8_images((3, 5, *PIXEL_SHAPE), seed=1)
        grid = sampling.sample_grid(support, samples)
        # Per round: 2 support cells, a separator cell, 5 samples; cells 4 + 1 pixels apart.
        self.assertEqual(grid.shape, (3 * 5 + 1, 8 * 5 + 1, 1))
        for round_index in range(3):
            row = grid[1 + 5 * round_index : 5 + 5 * round_index]
            self.assertAllEqual(row[:, 6:10], support[1])
            self.assertAllEqual(row[:, 11:15], np.full(PIXEL_SHAPE, 128))
            self.assertAllEqual(row[:, 36:40], samples[round_index, 4])


if __name__ == '__main__':
    tf.test.main()
