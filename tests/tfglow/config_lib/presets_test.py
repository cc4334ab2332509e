"""Tests for tfglow.config_lib.presets: openai/glow's schedule, smoke runs, variant arguments."""

import tensorflow as tf

from tfglow import config_lib


class VariantsTest(tf.test.TestCase):
    def test_parse(self):
        allowed = ('smoke', 'long')
        self.assertEqual(config_lib.parse_variants(None, allowed), frozenset())
        self.assertEqual(config_lib.parse_variants('', allowed), frozenset())
        self.assertEqual(config_lib.parse_variants('long, smoke', allowed), {'long', 'smoke'})
        with self.assertRaisesRegex(ValueError, r"'lng' \(did you mean 'long'\?\).*smoke, long"):
            config_lib.parse_variants('smoke,lng', allowed)

    def test_pick(self):
        choices = ('bedroom', 'tower')
        self.assertEqual(config_lib.pick_variant({'smoke'}, choices, 'bedroom'), 'bedroom')
        self.assertEqual(config_lib.pick_variant({'smoke', 'tower'}, choices, 'bedroom'), 'tower')
        with self.assertRaisesRegex(ValueError, 'bedroom, tower exclude each other'):
            config_lib.pick_variant({'tower', 'bedroom'}, choices, 'bedroom')


class ScheduleTest(tf.test.TestCase):
    def test_openai_schedule_at_64_pixels_on_8_gpus(self):
        config = config_lib.base_config()
        config_lib.apply_openai_schedule(config, num_gpus=8, image_size=64, epochs=10)
        self.assertEqual(config.batch_size, 8 * 16)
        self.assertEqual(config.eval_batch_size, 8 * 10)
        self.assertEqual(config.n_batch_init, 64)
        # openai/glow counts 64 images per GPU per step whatever the image size.
        self.assertEqual(config.warmup_steps, 977)
        self.assertAlmostEqual(config.ema_decay, 1 - 1 / 98)
        self.assertEqual(config.eval_every_steps, 50 * 98)
        self.assertEqual(config.num_train_steps, 10 * 98)
        config_lib.validate_config(config)

    def test_openai_schedule_rejects_huge_images(self):
        with self.assertRaisesRegex(ValueError, 'image_size 512'):
            config_lib.apply_openai_schedule(
                config_lib.base_config(), num_gpus=1, image_size=512, epochs=1
            )

    def test_smoke_caps_image_size(self):
        config = config_lib.base_config()
        config.data.image_size = 256
        config.model.num_levels = 6
        config_lib.apply_smoke(config)
        self.assertEqual(config.data.image_size, 32)
        self.assertEqual(config.model.num_levels, 2)
        config_lib.validate_config(config)


if __name__ == '__main__':
    tf.test.main()
