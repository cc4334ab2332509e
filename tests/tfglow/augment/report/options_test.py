"""tfglow.augment.report.options: which report each dataset gets."""

import tensorflow as tf

from tfglow.augment import report


class OptionsTest(tf.test.TestCase):
    def test_report_mode_by_data(self):
        self.assertEqual(report.report_mode('omniglot'), 'full')
        self.assertEqual(report.report_mode('fashion_mnist'), 'hypotheses')
        with self.assertRaisesRegex(ValueError, "no augmentation report for data 'cifar10'"):
            report.report_mode('cifar10')


if __name__ == '__main__':
    tf.test.main()
