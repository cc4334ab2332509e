"""tfglow.fewshot.classification: likelihood-based classification with a rigged model."""

import numpy as np
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

    def test_within_alphabet_episodes(self):
        # Alphabets of 3, 1 and 2 classes: 2-way episodes come from the first or the last only.
        class_arrays = separated_classes(group_sizes=[3, 1, 2])
        model = NearestSupport()
        result = classification.classify(
            model, class_arrays, 2, 1, num_episodes=10, episode_classes='within_alphabet'
        )
        self.assertEqual(
            (result['episode_classes'], result['groups_skipped']), ('within_alphabet', 1)
        )
        self.assertEqual(result['accuracy']['exact']['mean'], 1.0)
        # Classes are c * 40 + noise, so a support's class is its mean // 40. Rows are scored
        # episode by episode: 2 queries x 2 candidate support sets.
        supports = np.concatenate(model.scored_supports)
        classes = (supports.reshape(10, 4, -1).mean(axis=-1) // 40).astype(int)
        alphabet = np.array([0] * 3 + [1] + [2] * 2)
        for episode in classes:
            self.assertLen(set(episode), 2)
            self.assertLen(set(alphabet[episode]), 1)
        self.assertIn(
            'one alphabet (1 alphabets too small)',
            classification.format_classification_table([result]),
        )
        with self.assertRaisesRegex(ValueError, 'need a group \\(alphabet\\) of 4 classes'):
            classification.classify(
                model, class_arrays, 4, 1, num_episodes=2, episode_classes='within_alphabet'
            )
        with self.assertRaisesRegex(ValueError, 'episode classes must be one of'):
            classification.classify(model, class_arrays, 2, 1, episode_classes='within')

    def test_unconditional_model_is_refused(self):
        adapter = adapters.as_adapter(pixel_cnn(attention=False))
        with self.assertRaisesRegex(ValueError, 'takes no support set'):
            classification.classify(adapter, separated_classes(), 2, 1, num_episodes=2)


if __name__ == '__main__':
    tf.test.main()
