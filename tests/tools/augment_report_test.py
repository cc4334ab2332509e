"""`tfglow-augment-report`'s handling of bad input, in a fresh process (the report itself is
`tfglow.augment.report`'s, tested there)."""

import os
import subprocess

import tensorflow as tf

from tests.tools.run_binary import run_binary


def _run(*args: str) -> subprocess.CompletedProcess:
    return run_binary('augment_report', *args)


class AugmentReportBinaryTest(tf.test.TestCase):
    def test_missing_run_is_one_line_error(self):
        missing = os.path.join(self.get_temp_dir(), 'no_run')
        result = _run(f'--workdir={missing}', f'--output_dir={self.get_temp_dir()}/report')
        self.assertEqual(result.returncode, 1)
        self.assertIn(
            f'tfglow-augment-report: error: no training run in {missing}: the directory does not '
            'exist',
            result.stderr,
        )
        self.assertNotIn('Traceback', result.stderr)

    def test_non_numeric_list_flags_are_usage_errors(self):
        for flag, message in (
            ('--ways=5,x', '--ways takes integers; got 5,x'),
            ('--sweep_strengths=0.5,strong', '--sweep_strengths takes numbers; got 0.5,strong'),
        ):
            result = _run('--workdir=/unused', flag)
            self.assertNotEqual(result.returncode, 0)
            self.assertIn(message, result.stderr)


if __name__ == '__main__':
    tf.test.main()
