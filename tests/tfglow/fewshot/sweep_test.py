"""tfglow.fewshot.sweep: nested supports, paired gains, bounds, tables."""

import json
import math

import numpy as np
import tensorflow as tf

from tests.tfglow.fewshot.helpers import (
    GLOW_SHAPE,
    NearestSupport,
    few_shot_glow,
    glow,
    pixel_cnn,
    separated_classes,
)
from tfglow.fewshot import adapters
from tfglow.fewshot.sweep import cardinality_sweep, format_sweep_table


class SweepTest(tf.test.TestCase):
    def test_structure_and_nested_supports(self):
        model = NearestSupport()
        sweep = cardinality_sweep(
            model,
            separated_classes(per_class=5),
            ks=(4, 1, 2),
            baseline=NearestSupport(),
            targets_per_class=2,
            batch_size=5,
        )
        self.assertEqual(sweep['ks'], [1, 2, 4])
        self.assertEqual((sweep['num_classes'], sweep['num_targets']), (6, 12))
        self.assertEqual([row['k'] for row in sweep['conditional']], [1, 2, 4])
        for stats in [
            *(row['exact'] for row in sweep['conditional']),
            sweep['no_support']['exact'],
        ]:
            self.assertEqual(set(stats), {'nats_per_image', 'stderr', 'bits_per_dim'})
            self.assertAlmostEqual(
                stats['bits_per_dim'], stats['nats_per_image'] / (16 * math.log(2))
            )
        self.assertAlmostEqual(sweep['baseline_no_support']['exact']['nats_per_image'], 1e4)
        # Bigger sets contain the smaller ones, so the nearest image only gets nearer.
        nll = [row['exact']['nats_per_image'] for row in sweep['conditional']]
        self.assertEqual(nll, sorted(nll, reverse=True))
        by_k = {s.shape[1]: s for s in model.scored_supports}
        self.assertAllEqual(by_k[2][:, :1], by_k[1])
        self.assertAllEqual(by_k[4][:, :2], by_k[2])
        # Paired gains: the mean of differences is the difference of means; none at the first K.
        gains = {row['k']: row['exact'] for row in sweep['paired_gains']}
        self.assertEqual(gains[1]['over_first_k'], {'nats_per_image': 0.0, 'stderr': 0.0})
        for row in sweep['conditional']:
            gain = gains[row['k']]
            self.assertAlmostEqual(
                gain['over_first_k']['nats_per_image'], nll[0] - row['exact']['nats_per_image']
            )
            self.assertAlmostEqual(
                gain['over_no_support']['nats_per_image'],
                sweep['no_support']['exact']['nats_per_image'] - row['exact']['nats_per_image'],
            )
            self.assertIn('over_baseline', gain)
        json.dumps(sweep)  # JSON-ready.
        table = format_sweep_table(sweep)
        self.assertIn('| 4 |', table)
        self.assertIn('| 4 | exact | +', table)
        self.assertIn('exact: exact log P(x | support)', table)

    def test_few_shot_glow_with_an_unconditional_baseline(self):
        rng = np.random.default_rng(0)
        class_arrays = {str(c): rng.integers(0, 256, (4, *GLOW_SHAPE), np.uint8) for c in range(3)}
        model = adapters.as_adapter(few_shot_glow(), n_bits=3, num_noise_samples=3)
        baseline = adapters.as_adapter(glow(), n_bits=3, num_noise_samples=3)
        sweep = cardinality_sweep(model, class_arrays, ks=(1, 3), baseline=baseline, batch_size=2)
        for values in [*sweep['conditional'], sweep['no_support'], sweep['baseline_no_support']]:
            # The importance-weighted bound is tighter: a smaller NLL.
            self.assertLessEqual(
                values['dequantized_iw']['nats_per_image'], values['dequantized']['nats_per_image']
            )
            self.assertTrue(math.isfinite(values['dequantized']['nats_per_image']))
        self.assertEqual(sweep['baseline']['type'], 'Glow')
        self.assertEqual(sweep['model']['num_noise_samples'], 3)
        self.assertIn('dequantized_iw', format_sweep_table(sweep))

    def test_clear_errors(self):
        class_arrays = separated_classes(per_class=4)
        with self.assertRaisesRegex(ValueError, 'K=4 needs 5 images per class'):
            cardinality_sweep(NearestSupport(), class_arrays, ks=(1, 4))
        with self.assertRaisesRegex(ValueError, 'every K must be an integer >= 1'):
            cardinality_sweep(NearestSupport(), class_arrays, ks=(0, 1))
        with self.assertRaisesRegex(ValueError, 'takes no support set'):
            cardinality_sweep(
                adapters.as_adapter(pixel_cnn(attention=False)), class_arrays, ks=(1,)
            )
        with self.assertRaisesRegex(ValueError, "model's image shape"):
            cardinality_sweep(NearestSupport(), separated_classes(shape=(5, 5, 1)), ks=(1,))


if __name__ == '__main__':
    tf.test.main()
