"""tfglow.augment.evaluate and features: episodes, paired accuracies, augmented images on real data.

The slow variant of the feature-space check uses the trained model of TFGLOW_AUGMENT_WORKDIR
(default /work/runs/omniglot_fewshot_glow_unconditional):

  TFGLOW_SLOW=1 python -m pytest tests/tfglow/augment/evaluate_test.py -k real -q
"""

import dataclasses
import unittest

import numpy as np
import tensorflow as tf

from tests.tfglow.augment import helpers
from tfglow.augment import evaluate, features, latent, methods


def _closeness(codec, extractor, base_classes: int, eval_classes: int) -> dict[str, tuple]:
    """Per method: mean feature distance of augmented images to the held-out images of their own
    class and to those of the other classes (K = 5 support images per class)."""
    base = methods.BaseStatistics(
        latent.encode_classes(codec, helpers.omniglot('train', base_classes, seed=1))
    )
    arrays = helpers.omniglot('test', eval_classes, seed=2)
    held_out = {name: extractor.embed(images[5:]) for name, images in arrays.items()}
    result = {}
    for method in methods.METHODS:
        own, other = [], []
        for index, (name, images) in enumerate(arrays.items()):
            z = methods.augment_latents(
                codec.encode(images[:5]),
                base,
                6,
                methods.AugmentOptions(method, strength=0.8, num_related=5),
                seed=index,
            )
            embedded = extractor.embed(codec.decode(z))
            for other_name, held in held_out.items():
                distance = np.mean(np.sum((embedded[:, None] - held[None]) ** 2, axis=-1))
                (own if other_name == name else other).append(distance)
        result[method] = (float(np.mean(own)), float(np.mean(other)))
    return result


class AugmentedImagesTest(tf.test.TestCase):
    def test_augmented_images_resemble_their_class(self):
        closeness = _closeness(helpers.smoke_codec(), helpers.small_extractor(), 40, 10)
        for method, (own, other) in closeness.items():
            self.assertLess(own, other, method)

    @unittest.skipUnless(helpers.slow_enabled(), 'TFGLOW_SLOW=1 runs it on the trained model.')
    def test_real_model_augmented_images_resemble_their_class(self):
        codec = latent.load_codec(helpers.REAL_WORKDIR)
        extractor, _ = features.train_feature_extractor(
            helpers.omniglot('train', 300), features.FeatureOptions(epochs=6)
        )
        closeness = _closeness(codec, extractor, 300, 30)
        for method, (own, other) in closeness.items():
            self.assertLess(own, 0.8 * other, method)


class ClassificationTest(tf.test.TestCase):
    def test_paired_episodes_and_results(self):
        codec = helpers.smoke_codec()
        extractor = helpers.small_extractor()
        arrays = helpers.omniglot('test', 12, seed=3)
        targets = latent.encode_classes(codec, arrays)
        target_features = extractor.embed(np.concatenate(list(arrays.values())))
        base = methods.BaseStatistics(
            latent.encode_classes(codec, helpers.omniglot('train', 20, seed=4))
        )
        options = evaluate.ClassificationOptions(
            settings=((5, 1), (3, 2)),
            num_episodes=6,
            queries_per_class=3,
            num_augmented=2,
            episodes_per_chunk=4,
        )
        pooled = {'pooled': methods.AugmentOptions('pooled', num_related=3)}
        result = evaluate.classify_with_augmentation(
            codec, extractor, targets, target_features, base, pooled, options
        )
        both = dict(pooled, transfer=methods.AugmentOptions('transfer', num_related=3))
        again = evaluate.classify_with_augmentation(
            codec, extractor, targets, target_features, base, both, options
        )
        self.assertLen(result['settings'], 2)
        for first, second in zip(result['settings'], again['settings'], strict=True):
            self.assertEqual(list(second['accuracy']), ['none', 'pooled', 'transfer'])
            # Same episodes and seeds whatever the other methods: identical per-episode results.
            for name in ('none', 'pooled'):
                self.assertEqual(
                    first['accuracy'][name]['per_episode'], second['accuracy'][name]['per_episode']
                )
            per_episode = np.array(first['accuracy']['none']['per_episode'])
            self.assertLen(per_episode, 6)
            self.assertTrue(((per_episode >= 0) & (per_episode <= 1)).all())
            difference = np.mean(first['accuracy']['pooled']['per_episode']) - np.mean(per_episode)
            self.assertAllClose(first['difference']['pooled']['mean'], difference)
        table = evaluate.format_accuracy_table(again)
        self.assertIn('| method | 5-way 1-shot | 3-way 2-shot |', table)
        self.assertIn('| transfer |', table)
        self.assertIn('| pooled |', evaluate.format_difference_table(again))
        with self.assertRaisesRegex(ValueError, "'none' is always evaluated"):
            evaluate.classify_with_augmentation(
                codec, extractor, targets, target_features, base, {'none': None}, options
            )

    def test_feature_extractor_cache(self):
        directory = self.get_temp_dir()
        arrays = helpers.omniglot('train', 5)
        options = features.FeatureOptions(width=4, feature_dim=8, epochs=1, batch_size=50)
        first, facts = features.load_or_train(directory, arrays, options)
        self.assertFalse(facts['cached'])
        second, facts = features.load_or_train(directory, arrays, options)
        self.assertTrue(facts['cached'])
        images = next(iter(arrays.values()))
        self.assertAllClose(first.embed(images), second.embed(images))
        norms = np.linalg.norm(first.embed(images), axis=1)
        self.assertAllClose(norms[norms > 0], np.ones(np.sum(norms > 0)), atol=1e-5)
        _, facts = features.load_or_train(directory, arrays, dataclasses.replace(options, seed=1))
        self.assertFalse(facts['cached'])


if __name__ == '__main__':
    tf.test.main()
