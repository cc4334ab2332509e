"""tfglow.fewshot.run: results.json, summary.md, PNG grids and TensorBoard summaries."""

import glob
import json
import os

import tensorflow as tf

from tests.tfglow.fewshot.helpers import NearestSupport, separated_classes
from tfglow.fewshot import run


class RunEvaluationTest(tf.test.TestCase):
    def test_writes_results_tables_pngs_and_summaries(self):
        output_dir = os.path.join(self.get_temp_dir(), 'eval')
        options = run.EvalOptions(
            ks=(1, 2),
            settings=((3, 1), (2, 2)),
            num_episodes=4,
            sample_sets=2,
            sample_shots=2,
            samples_per_set=3,
            rounds=2,
        )
        results = run.run_evaluation(
            NearestSupport(),
            separated_classes(),
            output_dir,
            options,
            baseline=NearestSupport(),
            metadata={'workdir': 'none'},
        )
        with open(os.path.join(output_dir, 'results.json')) as f:
            self.assertEqual(json.load(f)['metadata'], {'workdir': 'none'})
        self.assertLen(results['classification'], 2)
        with open(os.path.join(output_dir, 'summary.md')) as f:
            summary = f.read()
        self.assertIn('3-way 1-shot', summary)
        self.assertIn('| 2 |', summary)
        pngs = sorted(glob.glob(os.path.join(output_dir, 'samples', '*.png')))
        self.assertLen(pngs, 2)
        self.assertEqual(results['sampling']['files'], pngs)
        self.assertRegex(os.path.basename(pngs[0]), r'set00_alphabet_character\d\d\.png')
        grid = tf.io.decode_png(tf.io.read_file(pngs[0])).numpy()
        self.assertEqual(grid.shape, (3 * 5 + 1, 3 * 5 + 1, 1))

        steps = {}
        for path in glob.glob(os.path.join(output_dir, 'events.out.tfevents.*')):
            for event in tf.compat.v1.train.summary_iterator(path):
                for value in event.summary.value:
                    steps.setdefault(value.tag, set()).add(event.step)
        self.assertEqual(steps['nll_nats/conditional/exact'], {1, 2})
        self.assertEqual(steps['nll_nats/baseline_no_support/exact'], {1, 2})
        self.assertIn('bits_per_dim/no_support/exact', steps)
        self.assertIn('classification/3way_1shot/exact', steps)
        self.assertLen([tag for tag in steps if tag.startswith('samples/')], 2)

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
