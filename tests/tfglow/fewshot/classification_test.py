"""tfglow.fewshot.classification: likelihood-based classification with a rigged model."""

import tensorflow as tf

from tests.tfglow.fewshot.helpers import NearestSupport, pixel_cnn, separated_classes
from tfglow.fewshot import adapters, classification


class ClassificationTest(tf.test.TestCase):
    def test_rigged_nearest_support_model_is_always_right(self):
        class_arrays = separated_classes()
        for n_way, k_shot in ((5, 1), (3, 2)):
            result = classification.classify(
                NearestSupport(), class_arrays, n_way, k_shot, num_episodes=20, batch_size=7
            )
            self.assertEqual(result['accuracy']['exact']['mean'], 1.0)
            self.assertEqual(result['accuracy']['exact']['ci95'], 0.0)
            self.assertLen(result['accuracy']['exact']['per_episode'], 20)
            self.assertAlmostEqual(result['chance'], 1.0 / n_way)

    def test_farthest_support_model_is_always_wrong(self):
        result = classification.classify(
            NearestSupport(sign=-1.0), separated_classes(), 4, 1, num_episodes=5
        )
        self.assertEqual(result['accuracy']['exact']['mean'], 0.0)

    def test_unconditional_model_is_refused(self):
        adapter = adapters.as_adapter(pixel_cnn(attention=False))
        with self.assertRaisesRegex(ValueError, 'takes no support set'):
            classification.classify(adapter, separated_classes(), 2, 1, num_episodes=2)


if __name__ == '__main__':
    tf.test.main()
