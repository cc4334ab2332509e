"""tfglow.progress: log lines with done/total and ETA, throttled, and a last line at the end."""

import tensorflow as tf

from tfglow.progress import Progress


class ProgressTest(tf.test.TestCase):
    def test_lines_show_whole_units_done_of_total_and_an_eta(self):
        with self.assertLogs('absl', 'INFO') as logs:
            progress = Progress('5-way 1-shot', 4, 'episodes', steps_per_unit=25, every_seconds=0)
            for _ in range(10):
                progress.advance(10)
        lines = [record.getMessage() for record in logs.records]
        self.assertEqual(lines[0], '5-way 1-shot: 0/4 episodes (0%), 00:00 elapsed, ETA ?')
        # 30 steps are one whole episode of 25; 90 are three.
        self.assertIn('5-way 1-shot: 1/4 episodes (25%)', lines[1])
        self.assertIn('5-way 1-shot: 3/4 episodes (75%)', lines[-2])
        self.assertRegex(
            lines[-1], r'^5-way 1-shot: 4/4 episodes \(100%\), \d\d:\d\d elapsed, ETA '
        )

    def test_throttled_lines_still_end_with_the_last(self):
        with self.assertLogs('absl', 'INFO') as logs:
            progress = Progress('sweep', 50, 'target images scored', every_seconds=3600)
            for _ in range(50):
                progress.advance(1)
        lines = [record.getMessage() for record in logs.records]
        self.assertLen(lines, 2)
        self.assertIn('sweep: 0/50 target images scored', lines[0])
        self.assertIn('sweep: 50/50 target images scored (100%)', lines[1])

    def test_bad_total(self):
        with self.assertRaisesRegex(ValueError, 'total must be an integer >= 1'):
            Progress('x', 0, 'episodes')


if __name__ == '__main__':
    tf.test.main()
