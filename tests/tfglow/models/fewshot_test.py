"""build_fewshot_model: the FewShotGlow a config's model section describes."""

import ml_collections
import tensorflow as tf

from tfglow.models.fewshot import build_fewshot_model

SHAPE = (8, 8, 1)


class BuildFewShotModelTest(tf.test.TestCase):
    def test_build_from_config(self):
        config = ml_collections.ConfigDict(
            dict(
                name='fewshot_glow',
                num_levels=2,
                steps_per_level=1,
                hidden_width=8,
                context='vector',
                context_channels=2,
                encoder_width=8,
                pooling='mean',
            )
        )
        model = build_fewshot_model(config, SHAPE, seed=0)
        self.assertEqual(model.encoder.context_shapes, ((2,), (2,)))
        # A config written before the key existed means uniform dequantisation.
        self.assertIsNone(model.dequantizer)
        config.dequantization = 'variational'
        config.dequantizer_couplings = 2
        config.dequantizer_width = 4
        model = build_fewshot_model(config, SHAPE, seed=0)
        self.assertLen(model.dequantizer.flow.couplings, 3)
        config.dequantization = 'learned'
        with self.assertRaisesRegex(ValueError, "dequantization must be one of .* 'learned'"):
            build_fewshot_model(config, SHAPE)
        config.dequantization = 'uniform'
        config.name = 'glow'
        with self.assertRaisesRegex(ValueError, "must be 'fewshot_glow'"):
            build_fewshot_model(config, SHAPE)


if __name__ == '__main__':
    tf.test.main()
