"""tfglow.augment.report.run: a tiny full report on real Omniglot classes and the smoke model."""

import json
import os

import tensorflow as tf

from tests.tfglow.augment import helpers
from tfglow.augment import features, report


class ReportTest(tf.test.TestCase):
    def test_writes_every_file_and_table(self):
        output_dir = os.path.join(self.get_temp_dir(), 'report')
        options = report.ReportOptions(
            episodes=3,
            settings=((5, 1), (5, 2)),
            queries_per_class=2,
            num_augmented=2,
            num_related=3,
            pool_sizes=(1, 5, 'alphabet', 'all'),
            num_projections=10,
            sets_per_size=2,
            h2_classes=4,
            h2_draws=1,
            ks=(1, 2, 5),
            sweep_strengths=(0.5,),
            sweep_settings=((5, 1),),
            sweep_episodes=2,
            feature_options=features.FeatureOptions(width=4, feature_dim=8, epochs=1),
        )
        results = report.run_report(
            helpers.smoke_codec(),
            helpers.omniglot('train', 12),
            helpers.omniglot('test', 10),
            output_dir,
            options,
        )
        for name in (
            'report.md',
            'results.json',
            'h1_normality.png',
            'h2_errors.png',
            'augment_examples.png',
            'latents_cache.npz',
            os.path.join('feature_extractor', 'features.json'),
        ):
            self.assertTrue(os.path.exists(os.path.join(output_dir, name)), name)
        with open(os.path.join(output_dir, 'report.md')) as f:
            markdown = f.read()
        self.assertIn('| method | 5-way 1-shot | 5-way 2-shot |', markdown)
        for method in ('none', 'pooled', 'transfer', 'calibrated'):
            self.assertIn(f'| {method} | ', markdown)
        self.assertRegex(markdown, r'\*\*Verdict: (not )?supported\.\*\*')
        self.assertIn('Relative error of the covariance estimate', markdown)
        self.assertIn('| calibrated | 0.5 | ', markdown)
        with open(os.path.join(output_dir, 'results.json')) as f:
            saved = json.load(f)
        self.assertEqual(saved['num_eval_classes'], 10)
        self.assertEqual(
            [r['pool'] for r in saved['hypothesis_1']['rows']], [1, 5, 'alphabet', 'all']
        )
        self.assertEqual(results['markdown'] + '\n', markdown)
        # The markdown and plots regenerate from results.json alone.
        os.remove(os.path.join(output_dir, 'h2_errors.png'))
        self.assertEqual(report.rewrite_report(output_dir)['markdown'], results['markdown'])
        self.assertTrue(os.path.exists(os.path.join(output_dir, 'h2_errors.png')))

    def test_hypotheses_only_report_of_fashion_mnist(self):
        # The Omniglot smoke flow also takes 28x28x1 images: enough to check the wiring.
        output_dir = os.path.join(self.get_temp_dir(), 'fashion')
        options = report.ReportOptions(
            pool_sizes=(*report.FLAT_POOL_SIZES, 'alphabet'),
            num_projections=10,
            sets_per_size=2,
            num_related=3,
            h2_draws=1,
            ks=(1, 2, 5),
            images_per_class=12,
        )
        results = report.run_hypotheses_report(
            helpers.smoke_codec(), helpers.fashion_mnist(15), output_dir, options
        )
        for name in ('report.md', 'results.json', 'h1_normality.png', 'h2_errors.png'):
            self.assertTrue(os.path.exists(os.path.join(output_dir, name)), name)
        self.assertFalse(os.path.exists(os.path.join(output_dir, 'augment_examples.png')))
        self.assertEqual(results['num_classes'], 10)
        self.assertEqual(results['images_per_class'], [12] * 10)
        self.assertEqual([r['pool'] for r in results['hypothesis_1']['rows']], [1, 2, 5, 10])
        self.assertEqual(results['hypothesis_1']['rows'][-1]['num_pools'], 1)
        self.assertEqual(results['hypothesis_2']['relations'], ['nearest', 'all'])
        markdown = results['markdown']
        self.assertIn('T-shirt/top', markdown)
        self.assertIn('each left out in turn', markdown)
        self.assertIn('few-shot classification with augmentation (no held-out', markdown)
        self.assertRegex(markdown, r'\*\*Verdict: (not )?supported\.\*\*')
        self.assertIn('| alone+all | ', markdown)
        self.assertNotIn('alphabet', markdown.split('## Hypothesis 1')[1])
        self.assertEqual(report.rewrite_report(output_dir)['markdown'], markdown)


if __name__ == '__main__':
    tf.test.main()
