"""Tests of the PixelCNN builders: a config's model section -> the tfp_flows model it describes."""

import tensorflow as tf

from tfglow import config_lib
from tfglow.models import pixel_cnn


def _model_config(**overrides):
    config = config_lib.load_config('configs/omniglot_attention_pixelcnn.py:smoke,support_map')
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


if __name__ == '__main__':
    tf.test.main()
