"""tfglow.serving.versions: tracing signatures with progress lines."""

import tensorflow as tf

from tfglow.serving import versions


class _Module(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
    def double(self, x):
        return {'y': 2 * x}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
    def square(self, x):
        return {'y': x * x}


class TraceSignaturesTest(tf.test.TestCase):
    def test_each_first_trace_is_logged_with_progress(self):
        module = _Module()
        functions = [('double', module.double), ('square', module.square)]
        with self.assertLogs('absl', 'INFO') as logs:
            concrete = versions.trace_signatures(functions)
        self.assertEqual(list(concrete), ['double', 'square'])
        self.assertAllEqual(concrete['square'](tf.constant([3.0]))['y'], [9.0])
        lines = '\n'.join(logs.output)
        self.assertIn('Tracing double (1/2)...', lines)
        self.assertIn('Tracing square (2/2)...', lines)
        self.assertRegex(logs.output[-1], r'tracing: 2/2 signatures \(100%\)')
        # Already traced (as when the metadata traced them first): nothing to report.
        with self.assertNoLogs('absl', 'INFO'):
            versions.trace_signatures(functions)


if __name__ == '__main__':
    tf.test.main()
