"""Tests for tfglow.tf_startup: TensorFlow's start-up noise kept back, everything else kept."""

import os
import subprocess
import sys
from unittest import mock

import tensorflow as tf

from tfglow import tf_startup

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Lines TensorFlow 2.21 (the `tensorflow` build) prints on start-up on a machine without a GPU.
NOISE_LINES = (
    'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR',
    'I0000 00:00:1796554458.327949    2796 port.cc:153] oneDNN custom operations are on.',
    'I0000 00:00:1796554458.328187    2796 cudart_stub.cc:31] Could not find cuda drivers on your'
    ' machine, GPU will not be used.',
    'W0000 00:00:1796554458.394755    2796 cpu_feature_guard.cc:227] This TensorFlow binary ...',
    'E0000 00:00:1796554462.804039    2796 cuda_platform.cc:52] failed call to cuInit: INTERNAL:'
    ' CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)',
)
KEPT_LINES = (
    'E0000 00:00:1796554462.804039    2796 op_kernel.cc:1857] OP_REQUIRES failed: out of memory',
    'F0000 00:00:1796554462.804039    2796 check.cc:12] Check failed: x',
    'Traceback (most recent call last):',
    'tfglow-export: error: no checkpoint in /tmp/run',
    'UserWarning: something the user should see',
)
# Writes the lines of argv to file descriptor 2, as C++ code does, inside the filter (without
# importing TensorFlow, whose own start-up lines would come first).
_CHILD = """
import os, sys
from tfglow import tf_startup
with tf_startup.filtered_stderr():
    for line in sys.argv[1:]:
        os.write(2, (line + '\\n').encode())
    print('from python', file=sys.stderr)
print('after', file=sys.stderr)
"""


class TfStartupTest(tf.test.TestCase):
    def test_noise_pattern(self):
        for line in NOISE_LINES:
            self.assertTrue(tf_startup.NOISE.match(line), line)
        for line in KEPT_LINES:
            self.assertFalse(tf_startup.NOISE.match(line), line)

    def test_filtered_stderr_writes_back_all_but_the_noise(self):
        result = subprocess.run(
            [sys.executable, '-c', _CHILD, *NOISE_LINES, *KEPT_LINES],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stderr.splitlines(), [*KEPT_LINES, 'from python', 'after'])

    def test_quiet_start_defaults_the_log_level_and_keeps_the_users(self):
        seen = []
        main = tf_startup.quiet_start(lambda argv: seen.append(os.environ['TF_CPP_MIN_LOG_LEVEL']))
        with mock.patch.dict(os.environ, clear=False):
            os.environ.pop('TF_CPP_MIN_LOG_LEVEL', None)
            main(['prog'])
            os.environ['TF_CPP_MIN_LOG_LEVEL'] = '0'
            main(['prog'])
        self.assertEqual(seen, ['2', '0'])


if __name__ == '__main__':
    tf.test.main()
