"""Tests for tfglow.config_lib.validation: each bad value raises a ValueError that names its key."""

import re

import tensorflow as tf
from absl.testing import parameterized

from tfglow import config_lib


def _set(config, key, value):
    *sections, leaf = key.split('.')
    for section in sections:
        config = config[section]
    # Bypass ConfigDict's type safety: a hand-written config can hold anything.
    with config.ignore_type():
        config[leaf] = value


class ValidateConfigTest(tf.test.TestCase, parameterized.TestCase):
    def test_base_config_is_valid(self):
        config_lib.validate_config(config_lib.base_config())

    @parameterized.named_parameters(
        ('strategy', 'strategy', 'horovod', "'mirrored'"),
        ('source', 'data.source', 'csv', "'tfds'"),
        ('model_name', 'model.name', 'realnvp', "'glow'"),
        ('permutation', 'model.permutation', 'invconv2', "'lu_invconv'"),
        ('coupling', 'model.coupling', 'affine_coupling', "'additive'"),
        ('network_dtype', 'model.network_dtype', 'bf16', "'bfloat16'"),
        ('optimizer', 'optimizer', 'sgd', "'adamax'"),
    )
    def test_unknown_choice(self, key, value, allowed):
        config = config_lib.base_config()
        _set(config, key, value)
        with self.assertRaisesRegex(ValueError, rf'config\.{key} .*{allowed}.*{value!r}'):
            config_lib.validate_config(config)

    def test_choice_suggests_closest(self):
        config = config_lib.base_config()
        config.model.permutation = 'invconvv'
        with self.assertRaisesRegex(ValueError, "did you mean 'invconv'"):
            config_lib.validate_config(config)

    @parameterized.named_parameters(
        ('num_levels_zero', 'model.num_levels', 0),
        ('num_levels_bool', 'model.num_levels', True),
        ('steps_per_level_zero', 'model.steps_per_level', 0),
        ('hidden_width_zero', 'model.hidden_width', 0),
        ('hidden_width_negative', 'model.hidden_width', -64),
        ('hidden_width_float', 'model.hidden_width', 64.0),
        ('n_bits_zero', 'model.n_bits_x', 0),
        ('n_bits_nine', 'model.n_bits_x', 9),
        ('num_train_steps_zero', 'num_train_steps', 0),
        ('batch_size_zero', 'batch_size', 0),
        ('eval_batch_size_zero', 'eval_batch_size', 0),
        ('warmup_negative', 'warmup_steps', -1),
        ('n_batch_init_zero', 'n_batch_init', 0),
        ('log_every_zero', 'log_every_steps', 0),
        ('checkpoint_every_zero', 'checkpoint_every_steps', 0),
        ('eval_every_zero', 'eval_every_steps', 0),
        ('num_eval_examples_negative', 'num_eval_examples', -1),
        ('num_samples_zero', 'num_samples', 0),
        ('keep_checkpoints_zero', 'keep_checkpoints', 0),
        ('max_bad_steps_zero', 'max_consecutive_bad_steps', 0),
        ('image_size_negative', 'data.image_size', -32),
        ('shuffle_buffer_zero', 'data.shuffle_buffer', 0),
        ('seed_string', 'seed', '0'),
    )
    def test_bad_integer(self, key, value):
        config = config_lib.base_config()
        _set(config, key, value)
        with self.assertRaisesRegex(ValueError, rf'config\.{key} must be an integer.*{value!r}'):
            config_lib.validate_config(config)

    @parameterized.named_parameters(
        ('learning_rate_zero', 'learning_rate', 0.0),
        ('learning_rate_nan', 'learning_rate', float('nan')),
        ('beta1_one', 'beta1', 1.0),
        ('beta2_negative', 'beta2', -0.1),
        ('ema_decay_one', 'ema_decay', 1.0),
        ('grad_clip_negative', 'grad_clip_norm', -1.0),
        ('weight_y_negative', 'model.weight_y', -0.01),
        ('learning_rate_string', 'learning_rate', '1e-3'),
    )
    def test_bad_number(self, key, value):
        config = config_lib.base_config()
        _set(config, key, value)
        with self.assertRaisesRegex(ValueError, rf'config\.{key} must be a number in'):
            config_lib.validate_config(config)

    @parameterized.named_parameters(
        ('learn_top', 'model.learn_top', 1),
        ('class_conditional', 'model.class_conditional', 'yes'),
    )
    def test_bad_bool(self, key, value):
        config = config_lib.base_config()
        _set(config, key, value)
        with self.assertRaisesRegex(ValueError, rf'config\.{key} must be True or False'):
            config_lib.validate_config(config)

    @parameterized.named_parameters(
        ('negative', (0.0, -0.7)),
        ('empty', ()),
        ('not_a_sequence', 0.7),
        ('infinite', (float('inf'),)),
    )
    def test_bad_temperatures(self, temperatures):
        config = config_lib.base_config()
        _set(config, 'sample_temperatures', temperatures)
        with self.assertRaisesRegex(ValueError, r'config\.sample_temperatures must be'):
            config_lib.validate_config(config)

    def test_weight_y_needs_class_conditional(self):
        config = config_lib.base_config()
        config.model.weight_y = 0.01
        with self.assertRaisesRegex(ValueError, r'config\.model\.weight_y .*class_conditional'):
            config_lib.validate_config(config)
        config.model.class_conditional = True
        config_lib.validate_config(config)

    @parameterized.named_parameters(('not_multiple', 30, 2), ('too_many_levels', 32, 6))
    def test_image_size_must_fit_levels(self, image_size, num_levels):
        config = config_lib.base_config()
        config.data.image_size = image_size
        config.model.num_levels = num_levels
        pattern = rf'config\.data\.image_size {image_size} .*multiple of 2\*\*num_levels'
        with self.assertRaisesRegex(ValueError, pattern):
            config_lib.validate_config(config)

    def test_native_image_shape_must_fit_levels(self):
        config = config_lib.base_config()
        config.model.num_levels = 3
        config_lib.validate_config(config)  # Native size unknown without the data.
        with self.assertRaisesRegex(ValueError, r'\(28, 28, 1\) .*config\.model\.num_levels 3'):
            config_lib.validate_config(config, image_shape=(28, 28, 1))
        config.model.num_levels = 2
        config_lib.validate_config(config, image_shape=(28, 28, 1))

    def test_tfds_needs_a_name(self):
        config = config_lib.base_config()
        config.data.source = 'tfds'
        config.data.name = ''
        with self.assertRaisesRegex(ValueError, r'config\.data\.name must name'):
            config_lib.validate_config(config)

    @parameterized.parameters('folder', 'tfrecord')
    def test_path_sources_need_a_path(self, source):
        config = config_lib.base_config()
        config.data.source = source
        with self.assertRaisesRegex(ValueError, rf'config\.data\.path must be set .*{source!r}'):
            config_lib.validate_config(config)

    def test_empty_split(self):
        config = config_lib.base_config()
        config.data.eval_split = ''
        with self.assertRaisesRegex(ValueError, r'config\.data\.eval_split must be a non-empty'):
            config_lib.validate_config(config)

    @parameterized.named_parameters(
        ('top_level_typo', 'batch_sze', "config.batch_sze (did you mean 'batch_size'?)"),
        ('nested_typo', 'model.hiden_width', "config.model.hiden_width (did you mean 'hidden"),
        ('misplaced', 'hidden_width', "config.hidden_width (did you mean 'config.model.hidden"),
        ('no_match', 'model.zzz', 'config.model.zzz'),
    )
    def test_unknown_key(self, key, message):
        config = config_lib.base_config()
        *sections, leaf = key.split('.')
        target = config
        for section in sections:
            target = target[section]
        target[leaf] = 1
        with self.assertRaisesRegex(ValueError, 'unknown config key ' + re.escape(message)):
            config_lib.validate_config(config)

    def test_missing_key(self):
        config = config_lib.base_config()
        del config.model['n_bits_x']
        with self.assertRaisesRegex(ValueError, r'config key config\.model\.n_bits_x is missing'):
            config_lib.validate_config(config)

    def test_fewshot_model_keys(self):
        config = config_lib.base_config('fewshot_glow')
        config_lib.validate_config(config)
        config.model.context = 'vector'
        config.model.num_heads = 2
        config_lib.validate_config(config)
        config.model.num_heads = 0
        with self.assertRaisesRegex(ValueError, r'config\.model\.num_heads must be an integer'):
            config_lib.validate_config(config)

    def test_fewshot_keys_need_the_fewshot_model(self):
        config = config_lib.base_config()
        config.model.context = 'vector'
        with self.assertRaisesRegex(ValueError, r'unknown config key config\.model\.context'):
            config_lib.validate_config(config)

    @parameterized.parameters(
        'glow', 'pixelcnn', 'attention_pixelcnn', 'meta_pixelcnn', 'fewshot_glow'
    )
    def test_every_family_schema_is_valid_and_smoke_keeps_it_valid(self, model):
        config = config_lib.base_config(model)
        config_lib.validate_config(config)
        self.assertEqual(config.model.name, model)
        self.assertEqual('episodes' in config, model in config_lib.EPISODIC_MODELS)
        config_lib.apply_smoke(config)
        config_lib.validate_config(config)
        self.assertEqual(config.model.hidden_width, 16)

    def test_key_of_another_family_names_it(self):
        config = config_lib.base_config('pixelcnn')
        config.model.num_levels = 2
        with self.assertRaisesRegex(
            ValueError, r"config\.model\.num_levels; it belongs to model 'glow', 'fewshot_glow'"
        ):
            config_lib.validate_config(config)
        config = config_lib.base_config()
        config.episodes = config_lib.base_config('fewshot_glow').episodes
        with self.assertRaisesRegex(
            ValueError, r"config\.episodes; it belongs to model 'attention"
        ):
            config_lib.validate_config(config)

    def test_pixel_cnn_output_fixes_the_bit_depth(self):
        config = config_lib.base_config('pixelcnn')
        config.model.output = 'bernoulli'
        with self.assertRaisesRegex(ValueError, r"n_bits_x must be 1 for output 'bernoulli'"):
            config_lib.validate_config(config)
        config.model.n_bits_x = 1
        config_lib.validate_config(config)
        config.model.output = 'logistic'
        with self.assertRaisesRegex(ValueError, r'config\.model\.output must be one of'):
            config_lib.validate_config(config)

    def test_autoregressive_models_sample_at_positive_temperatures(self):
        config = config_lib.base_config('attention_pixelcnn')
        self.assertEqual(config.sample_temperatures, (1.0,))
        config.sample_temperatures = (0.7, 1.0)
        config_lib.validate_config(config)
        config.sample_temperatures = (0.0, 1.0)  # The prior mode of a flow; no PixelCNN meaning.
        with self.assertRaisesRegex(ValueError, r'sample_temperatures must be > 0 for model'):
            config_lib.validate_config(config)

    @parameterized.named_parameters(
        ('k_max_below_k_min', 'k_max', 0, r'episodes\.k_max must be an integer >= 1'),
        ('k_order', 'k_min', 6, r'episodes\.k_max \(5\) must be >= config\.episodes\.k_min'),
        ('negative_class', 'train_classes', (0, -1), r'train_classes must be a sequence'),
        ('repeated_class', 'eval_classes', (7, 7), r'eval_classes must be a sequence of distinct'),
        ('noise_samples', 'eval_noise_samples', 0, r'eval_noise_samples must be an integer'),
        ('rotate_not_bool', 'rotate_train_classes', 1, r'rotate_train_classes must be'),
    )
    def test_bad_episodes(self, key, value, message):
        config = config_lib.base_config('fewshot_glow')
        _set(config, f'episodes.{key}', value)
        with self.assertRaisesRegex(ValueError, message):
            config_lib.validate_config(config)

    @parameterized.named_parameters(
        ('layer_zero', 'attention_layers', (0, 3), r'attention_layers must be a sequence of'),
        ('repeated_layer', 'attention_layers', (2, 2), r'attention_layers must be a sequence'),
        ('not_a_sequence', 'attention_layers', 3, r'attention_layers must be a sequence'),
        ('negative_map', 'map_width', -1, r'map_width must be an integer >= 0'),
        ('no_map_layers', 'map_layers', 0, r'map_layers must be an integer >= 1'),
    )
    def test_bad_support_conditioning(self, key, value, message):
        config = config_lib.base_config('attention_pixelcnn')
        with config.ignore_type():
            _set(config, f'model.{key}', value)
        with self.assertRaisesRegex(ValueError, message):
            config_lib.validate_config(config)
        config = config_lib.base_config('attention_pixelcnn')
        config.model.attention_layers = (1, 4)
        config.model.map_width = 32
        config_lib.validate_config(config)
        config.model.attention = False
        config_lib.validate_config(config)
        config.model.map_width = 0
        with self.assertRaisesRegex(ValueError, r'would not read the support set'):
            config_lib.validate_config(config)

    @parameterized.named_parameters(
        ('zero_step_size', 'inner_step_size', 0.0, r'inner_step_size must be a number in \(0\.0'),
        ('negative_steps', 'inner_steps', -1, r'inner_steps must be an integer >= 0'),
        ('no_condition', 'condition_width', 0, r'condition_width must be an integer >= 1'),
        ('negative_grid', 'condition_grid', -1, r'condition_grid must be an integer >= 0'),
        ('first_order_int', 'first_order', 1, r'first_order must be True or False'),
    )
    def test_bad_inner_loop(self, key, value, message):
        config = config_lib.base_config('meta_pixelcnn')
        config.model.inner_steps = 0
        config_lib.validate_config(config)
        with config.ignore_type():
            _set(config, f'model.{key}', value)
        with self.assertRaisesRegex(ValueError, message):
            config_lib.validate_config(config)

    def test_section_replaced_by_value(self):
        config = config_lib.base_config()
        with config.ignore_type():
            config.data = 'fashion_mnist'
        with self.assertRaisesRegex(ValueError, r'config\.data must be a ConfigDict section'):
            config_lib.validate_config(config)

    def test_fewshot_glow_dequantization_is_a_checked_choice(self):
        config = config_lib.base_config('fewshot_glow')
        config.model.dequantization = 'variational'
        config_lib.validate_config(config)
        config.model.dequantization = 'variationl'
        with self.assertRaisesRegex(
            ValueError, r"config\.model\.dequantization .*'uniform'.*did you mean 'variational'"
        ):
            config_lib.validate_config(config)
        config.model.dequantization = 'uniform'
        config.model.dequantizer_width = 0
        with self.assertRaisesRegex(ValueError, r'config\.model\.dequantizer_width'):
            config_lib.validate_config(config)


if __name__ == '__main__':
    tf.test.main()
