"""Tests for tfglow.config_lib.schema: families, image shapes, option lists of tfp_flows."""

import subprocess
import sys

import tensorflow as tf

from tfglow import config_lib
from tfp_flows import bijectors
from tfp_flows.bijectors import coupling, glow_flow
from tfp_flows.distributions import pixel_cnn


class BaseConfigTest(tf.test.TestCase):
    def test_unknown_family(self):
        with self.assertRaisesRegex(
            ValueError, r"unknown model 'pixelnn' \(did you mean 'pixelcnn'"
        ):
            config_lib.base_config('pixelnn')


class ImageShapeTest(tf.test.TestCase):
    def test_native_and_resized(self):
        config = config_lib.base_config()
        self.assertEqual(config_lib.model_image_shape(config, (28, 28, 1)), (28, 28, 1))
        config.data.image_size = 64
        self.assertEqual(config_lib.model_image_shape(config, (None, None, 3)), (64, 64, 3))

    def test_varying_native_size_needs_image_size(self):
        with self.assertRaisesRegex(ValueError, r'set config\.data\.image_size'):
            config_lib.model_image_shape(config_lib.base_config(), (None, None, 3))


class OptionListsTest(tf.test.TestCase):
    """config_lib repeats tfp_flows' option lists so that loading a config needs no TensorFlow."""

    def test_choices_equal_tfp_flows_own(self):
        self.assertEqual(config_lib.PERMUTATIONS, glow_flow.PERMUTATIONS)
        self.assertEqual(config_lib.COUPLINGS, coupling.COUPLINGS)
        self.assertEqual(config_lib.PIXEL_CNN_OUTPUTS, pixel_cnn.OUTPUTS)

    def test_network_dtypes_are_accepted_by_tfp_flows(self):
        for dtype in config_lib.NETWORK_DTYPES:
            layer = bijectors.Coupling(num_channels=4, hidden_width=4, network_dtype=dtype)
            self.assertEqual(layer.network.compute_dtype, tf.as_dtype(dtype))

    def test_loading_a_config_imports_no_tensorflow(self):
        code = (
            'import sys\n'
            'from tfglow import config_lib\n'
            "config_lib.load_config('configs/cifar10_glow.py:smoke')\n"
            "print('tensorflow' in sys.modules)\n"
        )
        result = subprocess.run(
            [sys.executable, '-c', code], capture_output=True, text=True, check=True
        )
        self.assertEqual(result.stdout.strip(), 'False')


if __name__ == '__main__':
    tf.test.main()
