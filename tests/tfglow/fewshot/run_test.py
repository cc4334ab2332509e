"""tfglow.fewshot.run: results.json, summary.md, PNG grids and TensorBoard summaries."""

import glob
import json
import os

import tensorflow as tf

from tests.tfglow.fewshot.helpers import NearestSupport, separated_classes
from tfglow.fewshot import run


class MeanIntensity:
    """A stub feature extractor: one feature, the mean intensity."""

    def embed(self, images):
        return images.reshape(len(images), -1).mean(axis=1, keepdims=True)


class RunEvaluationTest(tf.test.TestCase):
    def test_writes_results_tables_pngs_and_summaries(self):
        output_dir = os.path.join(self.get_temp_dir(), 'eval')
        options = run.EvalOptions(
            analyses=run.ANALYSES,
            ks=(1, 2),
            settings=((3, 1), (2, 2)),
            episode_classes=('cross_alphabet', 'within_alphabet'),
            num_episodes=4,
            sample_sets=2,
            sample_shots=2,
            samples_per_set=3,
            rounds=2,
            fidelity_ways=2,
            fidelity_episodes=2,
        )
        results = run.run_evaluation(
            NearestSupport(),
            separated_classes(group_sizes=[3, 3]),
            output_dir,
            options,
            baseline=NearestSupport(),
            metadata={'workdir': 'none'},
            feature_extractor=MeanIntensity(),
        )
        with open(os.path.join(output_dir, 'results.json')) as f:
            self.assertEqual(json.load(f)['metadata'], {'workdir': 'none'})
        self.assertLen(results['classification'], 4)
        self.assertEqual(
            [r['episode_classes'] for r in results['classification']],
            ['cross_alphabet'] * 2 + ['within_alphabet'] * 2,
        )
        with open(os.path.join(output_dir, 'summary.md')) as f:
            summary = f.read()
        self.assertIn('3-way 1-shot | one alphabet |', summary)
        self.assertIn('| 2 |', summary)
        self.assertIn('Specificity gap', summary)
        self.assertIn('Sample fidelity, 2-way 2-shot episodes', summary)
        self.assertEqual(
            sorted(results['plots']),
            [os.path.join(output_dir, 'plots', f) for f in ('accuracy_vs_k.png', 'nll_vs_k.png')],
        )
        for path in results['plots']:
            self.assertEqual(tf.io.decode_png(tf.io.read_file(path)).shape[-1], 4)  # RGBA.
        self.assertEqual(
            results['fidelity']['files'],
            [os.path.join(output_dir, 'fidelity', 'temperature_1.png')],
        )
        pngs = sorted(glob.glob(os.path.join(output_dir, 'samples', '*.png')))
        self.assertLen(pngs, 2)
        self.assertEqual(results['sampling']['files'], pngs)
        self.assertRegex(os.path.basename(pngs[0]), r'set00_alphabet\d_character\d\d\.png')
        grid = tf.io.decode_png(tf.io.read_file(pngs[0])).numpy()
        # One row per round: 2 support images, a separator, 3 samples.
        self.assertEqual(grid.shape, (2 * 5 + 1, 6 * 5 + 1, 1))

        steps = {}
        for path in glob.glob(os.path.join(output_dir, 'events.out.tfevents.*')):
            for event in tf.compat.v1.train.summary_iterator(path):
                for value in event.summary.value:
                    steps.setdefault(value.tag, set()).add(event.step)
        self.assertEqual(steps['nll_nats/conditional/exact'], {1, 2})
        self.assertEqual(steps['nll_nats/baseline_no_support/exact'], {1, 2})
        self.assertIn('bits_per_dim/no_support/exact', steps)
        self.assertIn('classification/3way_1shot/exact', steps)
        self.assertIn('classification/3way_1shot_within_alphabet/exact', steps)
        self.assertEqual(steps['specificity_gap/exact'], {1, 2})
        self.assertEqual(steps['fidelity/samples'], {1000})
        self.assertLen([tag for tag in steps if tag.startswith('samples/')], 2)

    def test_bad_episode_classes_fail_before_any_analysis(self):
        for options in (
            run.EvalOptions(episode_classes=('cross_alphabet', 'one_alphabet')),
            run.EvalOptions(analyses=('sweep', 'fidelity'), fidelity_classes='within'),
        ):
            model = NearestSupport()
            with self.assertRaisesRegex(ValueError, 'episode classes must be one of'):
                run.run_evaluation(
                    model, separated_classes(), self.get_temp_dir(), options, base_class_arrays={}
                )
            self.assertEmpty(model.scored_supports)

    def test_fidelity_needs_the_base_classes(self):
        with self.assertRaisesRegex(ValueError, 'sample fidelity needs the base classes'):
            run.run_evaluation(
                NearestSupport(),
                separated_classes(),
                self.get_temp_dir(),
                run.EvalOptions(analyses=('fidelity',)),
            )

    def test_fidelity_trains_its_features_on_the_base_classes_once(self):
        output_dir = os.path.join(self.get_temp_dir(), 'fidelity')
        options = run.EvalOptions(
            analyses=('fidelity',),
            fidelity_ways=2,
            fidelity_episodes=2,
            sample_shots=2,
            samples_per_set=2,
            feature_epochs=1,
        )
        base = separated_classes(num_classes=3)
        facts = []
        for _ in range(2):
            results = run.run_evaluation(
                NearestSupport(), separated_classes(), output_dir, options, base_class_arrays=base
            )
            facts.append(results['metadata']['feature_extractor'])
        self.assertEqual((facts[0]['num_classes'], facts[0]['cached']), (3, False))
        self.assertTrue(facts[1]['cached'])

    def test_bad_analysis(self):
        with self.assertRaisesRegex(ValueError, 'analyses must be some of'):
            run.run_evaluation(
                NearestSupport(),
                separated_classes(),
                self.get_temp_dir(),
                run.EvalOptions(analyses=('sweeps',)),
            )


if __name__ == '__main__':
    tf.test.main()
