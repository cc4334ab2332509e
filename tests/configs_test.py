"""Every config in configs/ and every variant it lists loads, validates and documents itself."""

import itertools
import os

import tensorflow as tf
from absl.testing import parameterized

from tfglow import config_lib, data, tasks

_CONFIGS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'configs')
_CONFIG_FILES = sorted(f for f in os.listdir(_CONFIGS_DIR) if f.endswith('.py'))


def _module(filename):
    return config_lib.load_config_module(os.path.join(_CONFIGS_DIR, filename))


def _variant_args(filename):
    """The default, each listed variant, and each variant combined with smoke."""
    variants = _module(filename).VARIANTS
    singles = [''] + list(variants)
    with_smoke = [f'{v},smoke' for v in variants if v != 'smoke']
    return singles + with_smoke


_CASES = [
    (f'{filename[:-3]}_{arg.replace(",", "_") or "default"}', filename, arg)
    for filename in _CONFIG_FILES
    for arg in _variant_args(filename)
]


class ConfigsTest(tf.test.TestCase, parameterized.TestCase):
    def test_expected_configs_exist(self):
        expected = {
            'fashion_mnist_glow.py',
            'cifar10_glow.py',
            'cifar10_glow_conditional.py',
            'imagenet32_glow.py',
            'imagenet64_glow.py',
            'celeba_glow.py',
            'lsun_glow.py',
            'mnist_glow.py',
            'fashion_mnist_pixelcnn.py',
            'omniglot_attention_pixelcnn.py',
            'omniglot_meta_pixelcnn.py',
            'omniglot_fewshot_glow.py',
            'fashion_mnist_fewshot_glow.py',
        }
        self.assertContainsSubset(expected, set(_CONFIG_FILES))

    @parameterized.named_parameters(*[(f[:-3], f) for f in _CONFIG_FILES])
    def test_module_documents_itself(self, filename):
        module = _module(filename)
        self.assertIn('smoke', module.VARIANTS)
        self.assertLen(set(module.VARIANTS), len(module.VARIANTS))
        self.assertLen(module.NATIVE_IMAGE_SHAPE, 3)
        self.assertGreaterEqual(module.NUM_CLASSES, 0)
        self.assertIn(f'tfglow-train --config=configs/{filename}', module.__doc__)
        self.assertRegex(module.__doc__, r'Target|Expected result')

    @parameterized.named_parameters(*_CASES)
    def test_variant_loads_and_validates(self, filename, arg):
        module = _module(filename)
        config = config_lib.load_config(os.path.join(_CONFIGS_DIR, f'{filename}:{arg}'))
        shape = config_lib.model_image_shape(config, module.NATIVE_IMAGE_SHAPE)
        config_lib.validate_config(config, image_shape=shape)
        self.assertEqual(shape[-1], module.NATIVE_IMAGE_SHAPE[-1])
        if config.model.get('class_conditional'):
            self.assertGreater(module.NUM_CLASSES, 0)

    @parameterized.named_parameters(*[c for c in _CASES if 'smoke' in c[2]])
    def test_smoke_is_small(self, filename, arg):
        module = _module(filename)
        config = _module(filename).get_config(arg)
        height, width, _ = config_lib.model_image_shape(config, module.NATIVE_IMAGE_SHAPE)
        self.assertLessEqual(max(height, width), 32)
        limits = {'num_levels': 2, 'steps_per_level': 2, 'hidden_width': 16, 'num_layers': 2}
        for key, limit in limits.items():
            if key in config.model:
                self.assertLessEqual(config.model[key], limit, key)
        self.assertLessEqual(config.batch_size, 8)
        self.assertLessEqual(config.n_batch_init, 16)
        self.assertLessEqual(config.num_train_steps, 5)
        self.assertBetween(config.num_eval_examples, 1, 64)
        self.assertLessEqual(config.eval_every_steps, config.num_train_steps)
        self.assertLessEqual(config.checkpoint_every_steps, config.num_train_steps)
        self.assertEqual(config.strategy, 'default')

    @parameterized.named_parameters(*[(f[:-3], f) for f in _CONFIG_FILES])
    def test_smoke_keeps_the_experiment_features(self, filename):
        module = _module(filename)
        full, smoke = module.get_config(), module.get_config('smoke')
        for key in ('source', 'name', 'train_split', 'eval_split'):
            self.assertEqual(smoke.data[key], full.data[key], key)
        self.assertEqual(smoke.model.name, full.model.name)
        features = ('permutation', 'coupling', 'learn_top', 'class_conditional', 'output')
        for key in (*features, 'context', 'pooling', 'n_bits_x'):
            if key in full.model:
                self.assertEqual(smoke.model[key], full.model[key], key)
        self.assertEqual(smoke.get('episodes'), full.get('episodes'))

    @parameterized.named_parameters(*[(f[:-3], f) for f in _CONFIG_FILES])
    def test_default_arguments_agree(self, filename):
        module = _module(filename)
        self.assertEqual(module.get_config(), module.get_config(''))
        self.assertEqual(module.get_config(), config_lib.load_config(f'configs/{filename}'))

    @parameterized.named_parameters(*[(f[:-3], f) for f in _CONFIG_FILES])
    def test_unknown_variant_is_rejected(self, filename):
        with self.assertRaisesRegex(ValueError, r"unknown config variant 'smok'.*'smoke'"):
            _module(filename).get_config('smok')

    def test_fashion_mnist_default_is_offline_and_cpu_sized(self):
        config = config_lib.load_config('configs/fashion_mnist_glow.py')
        self.assertEqual(config.data.source, 'idx')
        self.assertEqual(config.strategy, 'default')
        self.assertLessEqual(config.model.hidden_width, 128)
        self.assertLessEqual(config.model.num_levels * config.model.steps_per_level, 16)

    def test_cifar10_matches_openai_glow(self):
        config = config_lib.load_config('configs/cifar10_glow.py')
        model = config.model
        self.assertEqual(
            (model.num_levels, model.steps_per_level, model.hidden_width), (3, 32, 512)
        )
        self.assertEqual((model.permutation, model.coupling), ('invconv', 'affine'))
        self.assertTrue(model.learn_top)
        self.assertEqual(model.n_bits_x, 8)
        self.assertEqual((config.optimizer, config.learning_rate), ('adamax', 1e-3))
        # 8 GPUs x 64; warmup 10 x 50,000 images; beta2 = 1 - 1 / (50,000 / 512 iterations).
        self.assertEqual(config.batch_size, 512)
        self.assertEqual(config.n_batch_init, 256)
        self.assertEqual(config.warmup_steps, 977)
        self.assertAlmostEqual(config.beta2, 1 - 1 / 98)

    def test_cifar10_ablation_grid(self):
        module = _module('cifar10_glow.py')
        grid = {
            (c.model.permutation, c.model.coupling)
            for c in (module.get_config(v) for v in module.VARIANTS if v != 'smoke')
        }
        expected = set(itertools.product(('reverse', 'shuffle', 'invconv'), ('additive', 'affine')))
        self.assertEqual(grid, expected)
        with self.assertRaisesRegex(ValueError, 'exclude each other'):
            module.get_config('reverse_additive,shuffle_affine')

    def test_openai_batch_scales_with_image_size(self):
        def batch(filename, arg=''):
            return _module(filename).get_config(arg).batch_size

        self.assertEqual(batch('imagenet64_glow.py'), 8 * 16)
        self.assertEqual(batch('lsun_glow.py', 'tower'), 8 * 16)
        self.assertEqual(batch('celeba_glow.py'), 40 * 1)

    def test_conditional_configs_use_weight_y(self):
        for filename in ('cifar10_glow_conditional.py', 'imagenet32_glow_conditional.py'):
            config = _module(filename).get_config()
            self.assertTrue(config.model.class_conditional, filename)
            self.assertEqual(config.model.weight_y, 0.01, filename)

    @parameterized.named_parameters(*[c for c in _CASES if 'smoke' in c[2]])
    def test_smoke_variant_builds_its_model(self, filename, arg):
        module = _module(filename)
        config = module.get_config(arg)
        shape = config_lib.model_image_shape(config, module.NATIVE_IMAGE_SHAPE)
        info = data.DataInfo(image_shape=shape, num_classes=module.NUM_CLASSES, split_sizes={})
        task = tasks.get_task(config, info)
        model = task.build_model()
        batch = {
            'image': tf.zeros([2, *shape], tf.uint8),
            'label': tf.zeros([2], tf.int32),
            'noise': tf.fill([2, *shape], 0.5),
        }
        if 'episodes' in config:
            k = config.episodes.k_max
            batch = {
                'target': batch['image'],
                'support': tf.zeros([2, k, *shape], tf.uint8),
                'support_mask': tf.sequence_mask([1, k], k),
                'label': batch['label'],
                'noise': tf.fill([2, 1, *shape], 0.5),
            }
        loss, metrics = task.loss(model, batch)
        self.assertEqual(loss.shape, (2,))
        self.assertTrue(bool(tf.reduce_all(tf.math.is_finite(loss))))
        self.assertCountEqual(metrics, task.metric_names)


if __name__ == '__main__':
    tf.test.main()
