"""tfglow.pixels: the one uint8 <-> level <-> flow convention, and the dequantisation noise."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

import tfp_flows.dequantization as dq
from tfglow import pixels


class LevelsTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.parameters(1, 3, 5, 8)
    def test_uint8_of_a_level_lies_in_its_bin_and_maps_back(self, n_bits):
        bins = 2**n_bits
        levels = np.arange(bins)
        shown = pixels.to_uint8(levels, n_bits).numpy()
        self.assertEqual((shown[0], shown[-1]), (0, 255))
        self.assertAllEqual(pixels.to_levels(shown, n_bits), levels)
        all_pixels = np.arange(256, dtype=np.uint8)
        self.assertAllEqual(pixels.to_levels(all_pixels, n_bits), all_pixels // 2 ** (8 - n_bits))

    def test_eight_bits_is_the_identity_and_binary_ink_is_255(self):
        all_pixels = np.arange(256, dtype=np.uint8)
        self.assertAllEqual(pixels.to_uint8(pixels.to_levels(all_pixels, 8), 8), all_pixels)
        self.assertAllEqual(pixels.to_uint8([0, 1, -3, 7], 1), [0, 255, 0, 255])  # Clipped.
        # openai/glow's postprocess agrees at 8 bits (only fewer bits differ: 128 for ink).
        x = dq.preprocess(all_pixels, 8) + 0.5 / 256
        self.assertAllEqual(pixels.flow_to_uint8(x, 8), dq.postprocess(x, 8))

    @parameterized.parameters(1, 5, 8)
    def test_flow_round_trip(self, n_bits):
        images = np.random.default_rng(n_bits).integers(0, 256, [3, 4, 4, 1], dtype=np.uint8)
        levels = pixels.to_levels(images, n_bits)
        self.assertAllEqual(
            pixels.flow_to_levels(pixels.bin_centres(images, n_bits), n_bits), levels
        )
        noise = np.random.default_rng(0).random(images.shape, np.float32) * 0.999
        noisy = pixels.dequantized(images, n_bits, noise)
        self.assertAllEqual(pixels.flow_to_levels(noisy, n_bits), levels)
        self.assertAllEqual(pixels.flow_to_levels([-0.7, 0.6], n_bits), [0, 2**n_bits - 1])
        self.assertAllEqual(pixels.flow_to_uint8(noisy, n_bits), pixels.to_uint8(levels, n_bits))


class FewShotLevelsTest(tf.test.TestCase):
    """The levels the few-shot evaluator and exports read and show."""

    def test_binary_threshold_is_128(self):
        self.assertAllEqual(
            pixels.to_levels(np.array([0, 1, 127, 128, 200, 255], np.uint8), 1),
            [0, 0, 0, 1, 1, 1],
        )

    def test_levels_round_trip_and_span_the_uint8_range(self):
        for n_bits in range(1, 9):
            bins = 2**n_bits
            shown = pixels.to_uint8(np.arange(bins), n_bits).numpy()
            self.assertAllEqual(pixels.to_levels(shown, n_bits), np.arange(bins))
            # The same bins as the flows' preprocessing.
            self.assertAllClose(
                dq.preprocess(shown, n_bits), np.arange(bins) / bins - 0.5, atol=1e-7
            )
            self.assertEqual((shown[0], shown[-1]), (0, 255))


class SampleImagesTest(tf.test.TestCase):
    def test_overflowed_samples_are_checkerboards_and_counted(self):
        x = np.zeros([3, 4, 4, 1], np.float32)
        x[0] = 0.4
        x[1, 2, 3, 0] = np.nan
        x[2, 0, 0, 0] = -np.inf
        shown, overflowed = pixels.sample_images(tf.constant(x), n_bits=8)
        self.assertEqual(overflowed, 2)
        self.assertAllEqual(shown[0], np.full([4, 4, 1], 230, np.uint8))
        for index in (1, 2):
            self.assertAllEqual(np.unique(shown[index]), [0, 255])
            self.assertAllEqual(shown[index][:2, :2], np.zeros([2, 2, 1], np.uint8))
            self.assertAllEqual(shown[index][:2, 2:], np.full([2, 2, 1], 255, np.uint8))


class UniformNoiseTest(tf.test.TestCase):
    def test_row_is_a_function_of_its_seed_and_index_only(self):
        shape = [2, 3, 1]
        noise = pixels.uniform_noise(7, tf.range(5, dtype=tf.int64), shape)
        self.assertEqual(noise.shape, (5, *shape))
        for index in range(5):
            key = tf.random.experimental.stateless_fold_in(
                tf.constant([7, pixels.DEQUANTIZATION_STREAM], tf.int64),
                tf.constant(index, tf.int64),  # int64: an int32 index folds in differently.
            )
            self.assertAllEqual(noise[index], tf.random.stateless_uniform(shape, seed=key))
        self.assertAllEqual(pixels.uniform_noise(7, [3, 1], shape), tf.gather(noise, [3, 1]))
        # Per-row seeds with one index (a noise draw): the rows of seed 7 are those above.
        draws = pixels.uniform_noise([7, 8, 7], 2, shape)
        self.assertAllEqual(draws[0], noise[2])
        self.assertAllEqual(draws[2], noise[2])
        self.assertNotAllEqual(draws[1], noise[2])
        self.assertAllInRange(noise, 0.0, 1.0)

    def test_in_a_graph_with_dynamic_shapes(self):
        draw = tf.function(
            lambda seed, index, shape: pixels.uniform_noise(seed, index, shape),
            input_signature=[
                tf.TensorSpec([None], tf.int64),
                tf.TensorSpec([], tf.int64),
                tf.TensorSpec([3], tf.int32),
            ],
        )
        self.assertAllEqual(
            draw(tf.constant([7, 8], tf.int64), tf.constant(2, tf.int64), tf.constant([2, 3, 1])),
            pixels.uniform_noise([7, 8], 2, [2, 3, 1]),
        )


if __name__ == '__main__':
    tf.test.main()
