"""tfglow.fewshot.fidelity: own-class rates of samples against hand-built cases."""

import numpy as np
import tensorflow as tf

from tests.tfglow.fewshot.helpers import PIXEL_SHAPE, separated_classes
from tfglow.fewshot import fidelity


def mean_intensity(images):
    """A stub feature extractor: one feature, the mean intensity."""
    return images.reshape(len(images), -1).mean(axis=1, keepdims=True)


def overlapping_classes():
    """Two alphabets of three classes whose intensities overlap (class c: 8c + [0, 30))."""
    rng = np.random.default_rng(3)
    return {
        f'alphabet{c // 3}/character{c:02d}': (
            8 * c + rng.integers(0, 30, (8, *PIXEL_SHAPE))
        ).astype(np.uint8)
        for c in range(6)
    }


class RealImagesModel:
    """'Samples' the held-out real images of the support's class (those not in the support); at
    temperatures below 1, images of the next support set's class instead."""

    name = 'real_images'
    image_shape = PIXEL_SHAPE
    num_bins = 256
    takes_support = True
    estimators = ('exact',)
    samples_with_temperature = True

    def __init__(self, class_arrays):
        self.class_arrays = list(class_arrays.values())

    def _held_out(self, support, n):
        for images in self.class_arrays:
            if any((images == support[0]).all(axis=(1, 2, 3))):
                kept = [x for x in images if not any((x == s).all() for s in support)]
                return np.stack(kept[:n])
        raise AssertionError('support of no class')

    def sample_uint8(self, n, support=None, support_mask=None, seed=0, temperature=1.0):
        del support_mask, seed
        shift = 0 if temperature == 1.0 else 1
        sets = [self._held_out(support[(b + shift) % len(support)], n) for b in range(len(support))]
        return np.swapaxes(np.stack(sets), 0, 1)


def _three_way(class_arrays, **kwargs):
    """Within-alphabet 3-way 2-shot fidelity of `RealImagesModel`, at T = 0.5 and 1."""
    return fidelity.sample_fidelity(
        RealImagesModel(class_arrays),
        class_arrays,
        mean_intensity,
        n_way=3,
        shots=2,
        temperatures=(0.5,),
        **kwargs,
    )


class FidelityTest(tf.test.TestCase):
    def test_own_class_rate_by_hand(self):
        support = np.array([[[0.0], [2.0]], [[10.0], [12.0]]])  # Centroids 1 and 11.
        features = np.array([[[0.0], [7.0]], [[11.0], [5.0]]])  # 0 -> 0, 7 -> 1, 11 -> 1, 5 -> 0.
        self.assertEqual(fidelity.own_class_rate(support, features), 0.5)

    def test_samples_that_are_held_out_real_images_score_the_real_rate(self):
        class_arrays = overlapping_classes()
        # 8 images per class, 2 shots: the 6 held-out real images are exactly the 6 samples.
        result, grids = _three_way(class_arrays, samples_per_set=6, num_episodes=12)
        real = result['real_rate']['mean']
        self.assertBetween(real, 0.3, 0.95)  # The classes overlap: not a trivial rate.
        rows = {row['temperature']: row for row in result['rows']}
        self.assertEqual(list(rows), [0.5, 1.0])
        self.assertEqual(rows[1.0]['mean'], real)
        self.assertEqual(rows[1.0]['ratio_to_real'], 1.0)
        self.assertEqual(result['best_temperature'], 1.0)
        self.assertEqual(result['groups_skipped'], 0)
        self.assertEqual(result['real_images_per_class'], 6)
        # One row per class: 2 support images, the separator, 6 samples.
        self.assertEqual(grids[1.0].shape, (3 * 5 + 1, 9 * 5 + 1, 1))
        self.assertIn('| 1 (best) |', fidelity.format_fidelity_table(result))
        # 11 timed episodes (the first traces) of 3 classes x 6 samples, at each temperature.
        self.assertGreater(rows[1.0]['images_per_second'], 0.0)

    def test_samples_of_another_class_score_zero(self):
        class_arrays = separated_classes(per_class=8, group_sizes=[3, 3])
        result, _ = _three_way(class_arrays, samples_per_set=4, num_episodes=4)
        rows = {row['temperature']: row['mean'] for row in result['rows']}
        self.assertEqual((result['real_rate']['mean'], rows[1.0], rows[0.5]), (1.0, 1.0, 0.0))

    def test_a_model_without_temperature_samples_at_one_only(self):
        class_arrays = separated_classes(per_class=8, group_sizes=[3, 3])
        model = RealImagesModel(class_arrays)
        model.samples_with_temperature = False
        result, _ = fidelity.sample_fidelity(
            model,
            class_arrays,
            mean_intensity,
            n_way=3,
            shots=2,
            num_episodes=2,
            temperatures=(0.5,),
            episode_classes='cross_alphabet',
        )
        self.assertEqual([row['temperature'] for row in result['rows']], [1.0])
        with self.assertRaisesRegex(ValueError, 'need a group \\(alphabet\\) of 4 classes'):
            fidelity.sample_fidelity(model, class_arrays, mean_intensity, n_way=4, shots=2)
        with self.assertRaisesRegex(ValueError, 'needs 9 images per class'):
            fidelity.sample_fidelity(model, class_arrays, mean_intensity, n_way=3, shots=8)


if __name__ == '__main__':
    tf.test.main()
