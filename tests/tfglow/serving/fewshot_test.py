"""tfglow-export of the few-shot families (tfglow.serving.fewshot), reloaded in-process.

Each family's smoke model is written untrained (`export_helpers.untrained_workdir`: initialised on
real data and moved off its zero-initialised state, so that the support matters). The exports
must agree with the few-shot evaluator's adapters, which restore the same workdir.
"""

import functools
import json
import os
import shutil
import tempfile

import numpy as np
import tensorflow as tf

from tests.tfglow import export_helpers
from tfglow import config_lib, data, trained
from tfglow.fewshot import restore
from tfglow.serving import export, versions

_FEWSHOT_GLOW = 'configs/omniglot_fewshot_glow.py:smoke,uniform'
_UNCONDITIONAL_GLOW = 'configs/omniglot_fewshot_glow.py:smoke,unconditional'
_VARIATIONAL_GLOW = 'configs/omniglot_fewshot_glow.py:smoke'
_ATTENTION = 'configs/omniglot_attention_pixelcnn.py:smoke'
_PIXELCNN = 'configs/omniglot_attention_pixelcnn.py:smoke,pixelcnn'
_META = 'configs/omniglot_meta_pixelcnn.py:smoke'
_CLASS_CONDITIONAL = 'configs/fashion_mnist_pixelcnn.py:smoke,class_conditional'
# Dequantisation draws of the few-shot Glow exports (the default, 8, costs more test time).
_NOISE_SAMPLES = 3
_SHAPE = (28, 28, 1)
# The evaluator's float32 log-densities and the export's come from graphs traced with static and
# dynamic batch sizes, whose sums over the 784 pixels may differ by a few float32 ulps (6e-5 at
# 500 nats): 1e-4 nats plus one part in a million.
_NATS = dict(rtol=1e-6, atol=1e-4)


@functools.cache
def _omniglot_sets(sets: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Targets uint8 `[sets, 28, 28, 1]` and support `[sets, k, ...]` of evaluation classes."""
    config = config_lib.load_config(_FEWSHOT_GLOW)
    class_arrays = data.load_class_arrays(config.data, 'test')
    arrays = [class_arrays[name] for name in sorted(class_arrays)[:sets]]
    return np.stack([a[0] for a in arrays]), np.stack([a[1 : 1 + k] for a in arrays])


def _uint8(value) -> tf.Tensor:
    return tf.constant(value, tf.uint8)


class _ExportTestCase:
    """Mixed into a `tf.test.TestCase`: exports `SPEC`'s workdir once and reloads it with
    `tf.saved_model.load`; `cls.signatures` are the reloaded SavedModel's."""

    SPEC = ''
    ADAPTER = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.workdir = export_helpers.untrained_workdir(cls.SPEC)
        cls.export_base = tempfile.mkdtemp()
        cls.export_path = export.export_saved_model(
            cls.workdir, cls.export_base, num_noise_samples=_NOISE_SAMPLES
        )
        cls.signatures = tf.saved_model.load(cls.export_path).signatures
        with open(os.path.join(cls.export_path, versions.METADATA_PATH)) as f:
            cls.metadata = json.load(f)
        if cls.ADAPTER:
            cls.adapter = restore.load_workdir(
                cls.workdir, num_noise_samples=_NOISE_SAMPLES
            ).adapter
        cls.images, cls.support = _omniglot_sets(2, 3)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.export_base, ignore_errors=True)
        super().tearDownClass()

    def assert_invalid(self, signature: str, pattern: str, **kwargs):
        with self.assertRaisesRegex(
            (tf.errors.InvalidArgumentError, ValueError), pattern, msg=signature
        ):
            self.signatures[signature](**kwargs)

    def assert_binary_images(self, images: tf.Tensor, shape: tuple):
        self.assertEqual(images.dtype, tf.uint8)
        self.assertEqual(tuple(images.shape), shape)
        self.assertContainsSubset(set(np.unique(images.numpy())), {0, 255})


class FewShotGlowExportTest(_ExportTestCase, tf.test.TestCase):
    SPEC = _FEWSHOT_GLOW

    def log_prob(self, images, support, support_mask=None):
        if support_mask is None:
            support_mask = np.ones(support.shape[:2], bool)
        return self.signatures['fewshot_log_prob'](
            images=_uint8(images), support=_uint8(support), support_mask=tf.constant(support_mask)
        )

    def test_layout_and_metadata(self):
        self.assertEqual(self.export_path, os.path.join(self.export_base, '1'))
        self.assertEqual(
            set(self.signatures), {'serving_default', 'fewshot_log_prob', 'fewshot_sample'}
        )
        metadata = self.metadata
        self.assertEqual(metadata['model_family'], 'fewshot_glow')
        self.assertEqual(metadata['step'], export_helpers.UNTRAINED_STEP)
        self.assertEqual((metadata['n_bits'], metadata['num_noise_samples']), (1, _NOISE_SAMPLES))
        self.assertTrue(metadata['takes_support'])
        self.assertEqual(metadata['dequantization'], 'uniform')
        inputs = metadata['signatures']['fewshot_log_prob']['inputs']
        self.assertEqual(inputs['support'], {'dtype': 'uint8', 'shape': [-1, -1, 28, 28, 1]})
        self.assertEqual(inputs['support_mask'], {'dtype': 'bool', 'shape': [-1, -1]})
        outputs = metadata['signatures']['fewshot_sample']['outputs']
        self.assertEqual(outputs['images'], {'dtype': 'uint8', 'shape': [-1, -1, 28, 28, 1]})

    def test_log_prob_is_the_evaluators_bound_for_any_batch_and_support_size(self):
        for batch, k in ((2, 1), (2, 3), (1, 2)):
            images, support = self.images[:batch], self.support[:batch, :k]
            result = self.log_prob(images, support)
            expected = self.adapter.log_prob_discrete(images, support)['dequantized']
            self.assertAllClose(result['log_prob'], expected, **_NATS)
            self.assertAllClose(
                result['bits_per_dim'], -expected / (784 * np.log(2)), rtol=1e-6, atol=1e-6
            )
        # Deterministic, and the support matters.
        again = self.log_prob(self.images, self.support)['log_prob']
        self.assertAllEqual(again, self.log_prob(self.images, self.support)['log_prob'])
        self.assertNotAllClose(again, self.log_prob(self.images, self.support[::-1])['log_prob'])

    def test_masked_slots_have_no_effect(self):
        # Set 0 holds one image, set 1 two; the padding is different images entirely.
        mask = np.array([[True, False, False], [True, True, False]])
        padded = np.where(mask[..., None, None, None], self.support, 255 - self.support)
        result = self.log_prob(self.images, padded, mask)['log_prob']
        self.assertAllClose(
            result[:1], self.log_prob(self.images[:1], self.support[:1, :1])['log_prob'], atol=1e-4
        )
        self.assertAllClose(
            result[1:], self.log_prob(self.images[1:], self.support[1:, :2])['log_prob'], atol=1e-4
        )
        expected = self.adapter.log_prob_discrete(self.images, padded, mask)['dequantized']
        self.assertAllClose(result, expected, **_NATS)

    def test_samples_are_the_evaluators_and_a_function_of_the_seed(self):
        sample = lambda seed, support=self.support: self.signatures['fewshot_sample'](
            support=_uint8(support),
            num=tf.constant(2),
            temperature=tf.constant(0.7),
            seed=tf.constant(seed, tf.int64),
        )['images']
        images = sample(5)
        self.assert_binary_images(images, (2, 2, *_SHAPE))
        self.assertAllEqual(images, sample(5))
        self.assertNotAllEqual(images, sample(6))
        expected = self.adapter.sample_uint8(2, self.support, seed=5, temperature=0.7)
        self.assertAllEqual(images, expected)
        self.assertEqual(sample(2**40, self.support[:1, :1]).shape, (2, 1, *_SHAPE))

    def test_bad_inputs_fail_naming_the_input(self):
        images, support, mask = _uint8(self.images), _uint8(self.support), tf.ones([2, 3], tf.bool)
        log_prob = dict(images=images, support=support, support_mask=mask)
        for kwargs, pattern in (
            (dict(images=_uint8(np.zeros([2, 28, 27, 1]))), 'images'),
            (dict(images=images[:0], support=support[:0], support_mask=mask[:0]), 'images must'),
            (dict(support=support[:1], support_mask=mask[:1]), 'support must hold one set per'),
            (dict(support=support[:, :0], support_mask=mask[:, :0]), 'support must hold K >= 1'),
            (dict(support_mask=mask[:, :2]), 'support_mask must have shape'),
        ):
            self.assert_invalid('fewshot_log_prob', pattern, **{**log_prob, **kwargs})
        sample = dict(
            support=support,
            num=tf.constant(2),
            temperature=tf.constant(1.0),
            seed=tf.constant(0, tf.int64),
        )
        for kwargs, pattern in (
            (dict(num=tf.constant(0)), 'num'),
            (dict(temperature=tf.constant(-0.5)), 'temperature'),
            (dict(temperature=tf.constant(np.inf, tf.float32)), 'temperature'),
            (dict(support=support[:0]), 'support must hold at least one set'),
            (dict(support=_uint8(np.zeros([2, 3, 28, 28, 3]))), 'support'),
        ):
            self.assert_invalid('fewshot_sample', pattern, **{**sample, **kwargs})


class VariationalFewShotGlowExportTest(_ExportTestCase, tf.test.TestCase):
    SPEC = _VARIATIONAL_GLOW

    def test_log_prob_is_the_evaluators_bound_with_q(self):
        self.assertEqual(self.metadata['dequantization'], 'variational')
        self.assertEqual(self.adapter.dequantization, 'variational')
        images, support = self.images, self.support
        result = self.signatures['fewshot_log_prob'](
            images=_uint8(images),
            support=_uint8(support),
            support_mask=tf.ones(support.shape[:2], tf.bool),
        )
        expected = self.adapter.log_prob_discrete(images, support)['dequantized']
        self.assertAllClose(result['log_prob'], expected, **_NATS)


class UnconditionalFewShotGlowExportTest(_ExportTestCase, tf.test.TestCase):
    SPEC = _UNCONDITIONAL_GLOW

    def test_signatures_and_metadata(self):
        self.assertEqual(
            set(self.signatures),
            {'serving_default', 'fewshot_log_prob', 'fewshot_sample', 'encode', 'decode'},
        )
        self.assertFalse(self.metadata['takes_support'])
        self.assertEqual(self.metadata['latent_size'], 784)
        self.assertEqual(self.metadata['latent_shapes'], [[14, 14, 2], [7, 7, 8]])

    def test_encode_decode_is_exact_on_the_datas_levels(self):
        images = np.concatenate([self.images, self.support.reshape(-1, *_SHAPE)])
        encoded = self.signatures['encode'](images=_uint8(images))
        self.assertEqual(encoded['latents'].shape, (8, 784))
        self.assertEqual(encoded['latents_1'].shape, (8, 7, 7, 8))
        decoded = self.signatures['decode'](latents=encoded['latents'])['images']
        self.assertAllEqual(decoded, images)
        # Any uint8 image decodes to its levels, shown as the data shows them.
        grey = np.full([1, *_SHAPE], 200, np.uint8)
        latents = self.signatures['encode'](images=_uint8(grey))['latents']
        self.assertAllEqual(
            self.signatures['decode'](latents=latents)['images'], np.full_like(grey, 255)
        )
        self.assert_invalid(
            'decode', 'latents must be finite', latents=tf.fill([1, 784], np.float32(np.nan))
        )

    def test_support_is_ignored(self):
        mask = tf.ones([2, 3], tf.bool)
        log_prob = lambda support: self.signatures['fewshot_log_prob'](
            images=_uint8(self.images), support=_uint8(support), support_mask=mask
        )['log_prob']
        expected = self.adapter.log_prob_discrete(self.images)['dequantized']
        self.assertAllClose(log_prob(self.support), expected, **_NATS)
        self.assertAllEqual(log_prob(self.support), log_prob(255 - self.support))
        images = self.signatures['fewshot_sample'](
            support=_uint8(self.support[:1]),
            num=tf.constant(3),
            temperature=tf.constant(1.0),
            seed=tf.constant(4, tf.int64),
        )['images']
        expected = self.adapter.sample_uint8(3, seed=4)
        self.assertAllEqual(images, expected[:, None])


class AttentionPixelCNNExportTest(_ExportTestCase, tf.test.TestCase):
    SPEC = _ATTENTION

    def test_log_prob_is_the_exact_likelihood_for_any_batch_and_support_size(self):
        self.assertEqual(set(self.signatures), {'serving_default', 'log_prob', 'sample'})
        self.assertEqual(self.metadata['model_family'], 'attention_pixelcnn')
        for batch, k in ((2, 1), (2, 3), (1, 2)):
            images, support = self.images[:batch], self.support[:batch, :k]
            result = self.signatures['log_prob'](images=_uint8(images), support=_uint8(support))
            expected = self.adapter.log_prob_discrete(images, support)['exact']
            self.assertAllClose(result['log_prob'], expected, **_NATS)
            self.assertAllClose(
                result['bits_per_dim'], -expected / (784 * np.log(2)), rtol=1e-6, atol=1e-6
            )
        self.assert_invalid(
            'log_prob',
            'support must hold one set per image',
            images=_uint8(self.images),
            support=_uint8(self.support[:1]),
        )

    def test_samples_are_the_evaluators_and_a_function_of_the_seed(self):
        sample = lambda seed: self.signatures['sample'](
            support=_uint8(self.support[:, :2]),
            num=tf.constant(1),
            seed=tf.constant(seed, tf.int64),
        )['images']
        images = sample(3)
        self.assert_binary_images(images, (1, 2, *_SHAPE))
        # A second, separate computation from the seed alone (no repeat call: 784 steps each).
        self.assertAllEqual(images, self.adapter.sample_uint8(1, self.support[:, :2], seed=3))
        self.assert_invalid(
            'sample',
            'num',
            support=_uint8(self.support),
            num=tf.constant(0),
            seed=tf.constant(0, tf.int64),
        )


class MetaPixelCNNExportTest(_ExportTestCase, tf.test.TestCase):
    """tfglow.serving.meta_pixel_cnn: the attention model's signatures, adapting inside them."""

    SPEC = _META

    def test_log_prob_and_samples_are_the_evaluators_for_any_batch_and_support_size(self):
        self.assertEqual(set(self.signatures), {'serving_default', 'log_prob', 'sample'})
        self.assertEqual(self.metadata['model_family'], 'meta_pixelcnn')
        self.assertEqual((self.metadata['takes_support'], self.metadata['inner_steps']), (True, 1))
        for batch, k in ((2, 1), (2, 3), (1, 2)):
            images, support = self.images[:batch], self.support[:batch, :k]
            result = self.signatures['log_prob'](images=_uint8(images), support=_uint8(support))
            expected = self.adapter.log_prob_discrete(images, support)['exact']
            self.assertAllClose(result['log_prob'], expected, **_NATS)
        # The adaptation reads the support: another support set changes the likelihood.
        log_prob = lambda support: self.signatures['log_prob'](
            images=_uint8(self.images), support=_uint8(support)
        )['log_prob']
        self.assertNotAllClose(log_prob(self.support), log_prob(255 - self.support))
        images = self.signatures['sample'](
            support=_uint8(self.support[:, :2]), num=tf.constant(1), seed=tf.constant(3, tf.int64)
        )['images']
        self.assert_binary_images(images, (1, 2, *_SHAPE))
        self.assertAllEqual(images, self.adapter.sample_uint8(1, self.support[:, :2], seed=3))


class PixelCNNExportTest(_ExportTestCase, tf.test.TestCase):
    SPEC = _PIXELCNN

    def test_log_prob_and_samples_without_support(self):
        self.assertEqual(
            set(self.metadata['signatures']['log_prob']['inputs']), {'images'}, self.metadata
        )
        result = self.signatures['log_prob'](images=_uint8(self.images))
        expected = self.adapter.log_prob_discrete(self.images)['exact']
        self.assertAllClose(result['log_prob'], expected, **_NATS)
        images = self.signatures['sample'](num=tf.constant(2), seed=tf.constant(1, tf.int64))
        self.assert_binary_images(images['images'], (2, *_SHAPE))
        self.assertAllEqual(images['images'], self.adapter.sample_uint8(2, seed=1))


class ClassConditionalPixelCNNExportTest(_ExportTestCase, tf.test.TestCase):
    SPEC = _CLASS_CONDITIONAL
    ADAPTER = False  # The evaluator takes no labels.

    def test_every_signature_takes_a_label(self):
        self.assertEqual(self.metadata['num_classes'], 10)
        self.assertLen(self.metadata['class_names'], 10)
        model = trained.restore_run(self.workdir).model
        images = np.random.default_rng(0).integers(0, 256, [3, *_SHAPE], dtype=np.uint8)
        label = tf.constant([0, 4, 9])
        result = self.signatures['log_prob'](images=_uint8(images), label=label)
        expected = model.log_prob(images.astype(np.int32), label=label)
        self.assertAllClose(result['log_prob'], expected, **_NATS)
        samples = self.signatures['sample'](
            num=tf.constant(3), seed=tf.constant(0, tf.int64), label=label
        )['images']
        self.assertEqual((samples.dtype, samples.shape), (tf.uint8, (3, *_SHAPE)))
        self.assert_invalid(
            'log_prob', 'label must hold one class index', images=_uint8(images), label=label[:2]
        )
        self.assert_invalid(
            'sample',
            r'label must hold one class index in \[0, 10\)',
            num=tf.constant(1),
            seed=tf.constant(0, tf.int64),
            label=tf.constant([10]),
        )


class ExportErrorsTest(tf.test.TestCase):
    def test_attributes_are_for_glow_exports_only(self):
        with self.assertRaisesRegex(ValueError, "Glow exports only.*'fewshot_glow'"):
            export.export_saved_model(
                export_helpers.untrained_workdir(_FEWSHOT_GLOW),
                self.get_temp_dir(),
                attributes='directions.npz',
            )


if __name__ == '__main__':
    tf.test.main()
