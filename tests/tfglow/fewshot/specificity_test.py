"""tfglow.fewshot.specificity: the gap separates a support that carries the class signal."""

import numpy as np
import tensorflow as tf

from tests.tfglow.fewshot.helpers import PIXEL_SHAPE, separated_classes
from tfglow.fewshot import specificity


class IntensityModel:
    """log P(x | S) = -|mean(x) - mean(S)|: high when the support's mean intensity, the planted
    class signal, matches the target's; `reads_support=False` ignores the support."""

    name = 'intensity'
    image_shape = PIXEL_SHAPE
    num_bins = 256
    takes_support = True
    estimators = ('exact',)

    def __init__(self, reads_support: bool = True):
        self.reads_support = reads_support

    def log_prob_discrete(self, images, support=None, support_mask=None, seed=0):
        del support_mask, seed
        target = images.reshape(len(images), -1).mean(axis=1)
        if not self.reads_support:
            return {'exact': -target}
        return {'exact': -np.abs(target - support.reshape(len(support), -1).mean(axis=1))}


class SpecificityTest(tf.test.TestCase):
    def test_the_gap_separates_the_right_support_from_another_of_the_alphabet(self):
        # Three alphabets of two classes c, c' whose intensities differ by 40: the other support
        # is from the same alphabet, so the gap is 40 give or take the noise of [0, 5).
        class_arrays = separated_classes(group_sizes=[2, 2, 2])
        result = specificity.specificity_gap(
            IntensityModel(), class_arrays, ks=(2, 3), targets_per_class=2, batch_size=5
        )
        self.assertEqual(result['ks'], [1, 2, 3])
        self.assertEqual((result['relation'], result['num_targets']), ('same alphabet', 12))
        for row in result['rows']:
            gap = row['exact']
            self.assertBetween(gap['nats_per_image'], 35.0, 45.0)
            self.assertLess(gap['stderr'], 2.0)
            self.assertEqual(gap['win_rate'], 1.0)
        table = specificity.format_specificity_table(result)
        self.assertIn('another class, same alphabet', table)
        self.assertRegex(table, r'\| 1 \| \+\d\d\.\d\d ± \d\.\d\d \(100%\) \|')

    def test_a_model_that_ignores_the_support_has_no_gap(self):
        result = specificity.specificity_gap(
            IntensityModel(reads_support=False), separated_classes(), ks=(2,)
        )
        for row in result['rows']:
            self.assertEqual(row['exact']['nats_per_image'], 0.0)
            self.assertEqual(row['exact']['win_rate'], 0.0)

    def test_without_groups_the_other_class_is_any_class(self):
        class_arrays = {str(c): images for c, images in enumerate(separated_classes().values())}
        result = specificity.specificity_gap(IntensityModel(), class_arrays, ks=(1,))
        self.assertEqual(result['relation'], 'any other class')
        # Other classes are 40 to 200 intensity levels away.
        self.assertGreater(result['rows'][0]['exact']['nats_per_image'], 40.0)

    def test_classes_too_small(self):
        with self.assertRaisesRegex(
            ValueError, 'at K=6 .* needs 7 images per class; the smallest class has 6'
        ):
            specificity.specificity_gap(IntensityModel(), separated_classes(), ks=(6,))


if __name__ == '__main__':
    tf.test.main()
