"""Tests of the PixelCNN builders: a config's model section -> the tfp_flows model it describes."""

import tensorflow as tf

from tfglow import config_lib
from tfglow.models import pixel_cnn


def _model_config(**overrides):
    config = config_lib.load_config('configs/omniglot_attention_pixelcnn.py:smoke,attention')
    config.model.update(overrides)
    return config.model


class AttentionPixelCNNBuilderTest(tf.test.TestCase):
    def test_attention_and_support_map_as_configured(self):
        model = pixel_cnn.build_attention_pixel_cnn(_model_config(), (28, 28, 1), seed=0)
        self.assertNotEmpty(model.attention_layers)
        self.assertIsNotNone(model.encoder)
        self.assertIsNotNone(model.support_map)

    def test_support_map_alone(self):
        model = pixel_cnn.build_attention_pixel_cnn(
            _model_config(attention=False), (28, 28, 1), seed=0
        )
        self.assertEmpty(model.attention_layers)
        self.assertIsNone(model.encoder)
        self.assertIsNotNone(model.support_map)

    def test_workdirs_from_before_the_keys_attend_without_a_map(self):
        config = _model_config()
        for key in ('attention', 'attention_layers', 'map_width', 'map_layers'):
            del config[key]
        model = pixel_cnn.build_attention_pixel_cnn(config, (28, 28, 1), seed=0)
        self.assertNotEmpty(model.attention_layers)
        self.assertIsNone(model.support_map)


class MetaPixelCNNBuilderTest(tf.test.TestCase):
    def test_inner_loop_as_configured(self):
        config = config_lib.load_config('configs/omniglot_meta_pixelcnn.py:smoke,first_order')
        config.model.inner_steps = 3
        config.model.inner_step_size = 0.25
        model = pixel_cnn.build_meta_pixel_cnn(config.model, (28, 28, 1), seed=0)
        self.assertEqual((model.inner_steps, model.first_order), (3, True))
        self.assertEqual(model.condition_width, config.model.condition_width)
        self.assertAllClose(model.step_size, [0.25] * model.condition_width)
        config.model.condition_grid = 7
        spatial = pixel_cnn.build_meta_pixel_cnn(config.model, (28, 28, 1), seed=0)
        self.assertEqual(spatial.condition_shape, (7, 7, config.model.condition_width))
        with self.assertRaisesRegex(ValueError, "must be 'meta_pixelcnn' for this builder"):
            pixel_cnn.build_meta_pixel_cnn(_model_config(), (28, 28, 1))


if __name__ == '__main__':
    tf.test.main()
