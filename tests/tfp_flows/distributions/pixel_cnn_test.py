"""PixelCNN: causality, exact normalisation, sampling, conditioning, shapes, checkpoints, errors."""

import itertools

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from tfp_flows import testing
from tfp_flows.distributions.pixel_cnn import PixelCNN

# Tiny networks: 3x3 kernels everywhere so that the receptive field grows one pixel per layer.
TINY = dict(num_layers=3, hidden_width=12, head_width=12, first_kernel_size=3, seed=0)


def perturbed(model, scale=0.3, seed=1):
    """The model with noise on every weight: the zero-initialised head and class embeddings stop
    being trivial, so the checks below see a non-trivial network."""
    testing.perturb_variables(model, scale, seed=seed)
    return model


def all_images(shape, max_value):
    """Every image `[M, H, W, C]` with values in {0, ..., max_value}, in lexicographic order."""
    size = int(np.prod(shape))
    values = itertools.product(range(max_value + 1), repeat=size)
    return np.array(list(values), np.int32).reshape(-1, *shape)


def assert_causal(test_case, parameters_fn, shape, full_receptive_field=True, seed=0):
    """Checks the autoregressive order with an exact Jacobian.

    `parameters_fn(inputs [1, H, W, C]) -> [1, H, W, C, P]`. Sub-pixels are ordered as the
    row-major flattening of `[H, W, C]`; every output parameter of sub-pixel `i` must have exactly
    zero gradient with respect to inputs `j >= i`, and (no blind spot) a non-zero gradient with
    respect to every earlier `j` when `full_receptive_field`, else to at least one.
    """
    inputs = tf.constant(np.random.default_rng(seed).uniform(-1, 1, (1, *shape)), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        params = parameters_fn(inputs)
    size = int(np.prod(shape))
    jacobian = tape.jacobian(params, inputs)
    jacobian = tf.reshape(jacobian, [size, -1, size])
    sensitivity = tf.reduce_max(tf.abs(jacobian), axis=1).numpy()  # [output, input]
    later = np.triu(np.ones([size, size], bool))
    test_case.assertAllEqual(sensitivity[later], np.zeros(later.sum()))
    earlier = ~later
    if full_receptive_field:
        test_case.assertTrue(np.all(sensitivity[earlier] > 0), 'blind spot: ' + str(sensitivity))
    else:
        test_case.assertTrue(np.all(np.any(sensitivity[1:] > 0, axis=1)))
    height, width, channels = shape
    if height > 1 and width > 1:
        # The pixel above-right of (1, 0) is the classic blind spot of a masked-conv PixelCNN.
        above_right = (0 * width + 1) * channels
        test_case.assertGreater(sensitivity[(1 * width + 0) * channels, above_right], 0)


def total_probability(model, shape, **kwargs):
    images = all_images(shape, model.max_value)
    log_prob = model.log_prob(images, **kwargs).numpy().astype(np.float64)
    return np.exp(log_prob).sum()


def ks_distance(samples, pmf):
    """Kolmogorov-Smirnov distance between integer samples and a pmf over 0 .. len(pmf) - 1."""
    empirical = np.bincount(samples, minlength=len(pmf)) / len(samples)
    return np.max(np.abs(np.cumsum(empirical) - np.cumsum(pmf)))


def frequencies(samples, shape, max_value):
    """Empirical distribution of images `[n, H, W, C]` over `all_images` order."""
    digits = samples.reshape(len(samples), -1)
    index = digits @ ((max_value + 1) ** np.arange(digits.shape[1])[::-1])
    return np.bincount(index, minlength=(max_value + 1) ** digits.shape[1]) / len(samples)


class PixelCNNTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.named_parameters(
        ('bernoulli_rgb', 'bernoulli', (4, 4, 3), dict(num_layers=4)),
        ('categorical_gray', 'categorical', (4, 4, 1), dict(num_layers=4)),
        ('logistic_two_channels', 'logistic_mixture', (3, 3, 2), dict(num_mixtures=2)),
        ('bernoulli_first_kernel_5', 'bernoulli', (5, 5, 1), dict(first_kernel_size=5)),
        ('class_conditional', 'bernoulli', (4, 4, 3), dict(num_layers=4, num_classes=3)),
    )
    def test_each_sub_pixel_depends_on_all_earlier_and_no_later_ones(self, output, shape, options):
        model = perturbed(PixelCNN(shape, output=output, **dict(TINY, **options)))
        label = tf.constant([2]) if model.num_classes else None
        assert_causal(self, lambda x: model.output_parameters(x, label=label), shape)

    def test_shallow_network_is_still_causal(self):
        model = perturbed(PixelCNN((5, 5, 3), 'bernoulli', **dict(TINY, num_layers=1)))
        assert_causal(self, model.output_parameters, (5, 5, 3), full_receptive_field=False)

    @parameterized.named_parameters(
        ('bernoulli_2x2x1', 'bernoulli', (2, 2, 1), {}),
        ('bernoulli_2x2x3', 'bernoulli', (2, 2, 3), {}),
        ('bernoulli_class_conditional', 'bernoulli', (2, 2, 1), dict(num_classes=2)),
        ('categorical_1x2x1', 'categorical', (1, 2, 1), {}),
        ('categorical_1x1x2', 'categorical', (1, 1, 2), {}),
        ('logistic_mixture_1x2x1', 'logistic_mixture', (1, 2, 1), dict(num_mixtures=3)),
    )
    def test_probabilities_of_all_images_sum_to_one(self, output, shape, options):
        model = perturbed(PixelCNN(shape, output=output, **dict(TINY, **options)))
        kwargs = {'label': 1} if model.num_classes else {}
        self.assertAllClose(total_probability(model, shape, **kwargs), 1.0, atol=2e-5)

    def test_logistic_mixture_is_exact_for_sharp_and_wide_components(self):
        model = PixelCNN((1, 1, 1), 'logistic_mixture', **dict(TINY, num_mixtures=2))
        values = tf.range(256)[:, None, None, None]
        for log_scale in (-9.0, -4.0, 0.0, 3.0):
            # Two components, one centred on a bin and one between bins, at the same scale.
            params = tf.constant([[0.0, 1.0, -0.2, 0.1 + 1.0 / 255.0, log_scale, log_scale]])
            log_prob = model._sub_pixel_log_prob(tf.tile(params, [256, 1]), values[:, 0, 0, 0])
            self.assertTrue(bool(tf.reduce_all(tf.math.is_finite(log_prob))), log_scale)
            total = tf.reduce_sum(tf.exp(tf.cast(log_prob, tf.float64)))
            self.assertAllClose(total, 1.0, atol=1e-5)

    def test_sampler_matches_the_parallel_pass_under_teacher_forcing(self):
        shape = (4, 3, 3)
        model = perturbed(PixelCNN(shape, **dict(TINY, num_layers=4, num_classes=3)))
        images = tf.constant(np.random.default_rng(0).integers(0, 256, (2, *shape)), tf.int32)
        label = tf.constant([0, 2])

        @tf.function
        def teacher_forced():
            def draw(params, row, col, channel):
                value = images[:, row, col, channel]
                return value, model.preprocess(value)

            return model.network.autoregress(
                tf.constant(2), draw, label=label, return_parameters=True
            )

        values, params = teacher_forced()
        self.assertAllEqual(values, images)
        expected = model.output_parameters(model.preprocess(images), label=label)
        self.assertAllClose(params, expected, atol=1e-4)

    def test_samples_follow_the_model_distribution_per_condition(self):
        shape = (2, 2, 1)
        model = perturbed(PixelCNN(shape, 'bernoulli', **dict(TINY, num_classes=2)), 0.5)
        samples = model.sample(3000, label=[0, 1], seed=3).numpy()  # [n, B, H, W, C]
        self.assertEqual(samples.shape, (3000, 2, *shape))
        for label in (0, 1):
            pmf = np.exp(model.log_prob(all_images(shape, 1), label=label).numpy())
            empirical = frequencies(samples[:, label], shape, 1)
            self.assertLess(0.5 * np.abs(empirical - pmf).sum(), 0.05, label)
        # The two labels really give different distributions.
        pmfs = [np.exp(model.log_prob(all_images(shape, 1), label=y).numpy()) for y in (0, 1)]
        self.assertGreater(0.5 * np.abs(pmfs[0] - pmfs[1]).sum(), 0.05)

    @parameterized.named_parameters(
        ('categorical', 'categorical'), ('logistic', 'logistic_mixture')
    )
    def test_sub_pixel_draws_follow_the_output_distribution(self, output):
        model = perturbed(PixelCNN((1, 1, 1), output, **dict(TINY, num_mixtures=3)), 1.0)
        pmf = np.exp(model.log_prob(np.arange(256).reshape(256, 1, 1, 1)).numpy())
        samples = model.sample(10000, seed=5).numpy().reshape(-1)
        self.assertLess(ks_distance(samples, pmf), 0.02)

    @parameterized.named_parameters(
        ('categorical', 'categorical', 256, 1.0), ('bernoulli', 'bernoulli', 2, 0.5)
    )
    def test_temperature_tempers_each_conditional(self, output, levels, scale):
        # Perturbations that leave the pixel's probabilities far from uniform and from 0 or 1.
        model = perturbed(PixelCNN((1, 1, 1), output, **TINY), scale)
        pmf = np.exp(model.log_prob(np.arange(levels).reshape(levels, 1, 1, 1)).numpy())
        for temperature in (0.5, 2.0):
            tempered = pmf ** (1.0 / temperature)
            tempered /= tempered.sum()
            samples = model.sample(10000, seed=5, temperature=temperature).numpy().reshape(-1)
            self.assertLess(ks_distance(samples, tempered), 0.02, temperature)
            # And not the untempered distribution: the test can tell them apart.
            self.assertGreater(ks_distance(samples, pmf), 0.03, temperature)
        self.assertAllEqual(model.sample(7, seed=2), model.sample(7, seed=2, temperature=1.0))

    def test_logistic_temperature_narrows_the_draws(self):
        model = perturbed(PixelCNN((1, 1, 1), 'logistic_mixture', **TINY), 1.0)
        spreads = [
            np.std(model.sample(4000, seed=3, temperature=t).numpy().astype(float))
            for t in (0.3, 1.0)
        ]
        self.assertLess(spreads[0], 0.8 * spreads[1])

    def test_temperature_must_be_positive(self):
        model = PixelCNN((2, 2, 1), 'bernoulli', **TINY)
        for bad in (0.0, -1.0, float('nan')):
            with self.assertRaisesRegex(ValueError, 'temperature must be a finite number > 0'):
                model.sample(1, seed=1, temperature=bad)

    @parameterized.named_parameters(
        ('categorical', 'categorical', tf.uint8, 255),
        ('logistic', 'logistic_mixture', tf.int32, 255),
        ('bernoulli', 'bernoulli', tf.int64, 1),
    )
    def test_samples_have_shape_dtype_range_and_are_deterministic(self, output, dtype, top):
        shape = (3, 4, 3)
        model = perturbed(PixelCNN(shape, output, image_dtype=dtype, **TINY))
        samples = model.sample(5, seed=7)
        self.assertEqual(samples.shape, (5, *shape))
        self.assertEqual(samples.dtype, dtype)
        self.assertEqual(model.dtype, dtype)
        values = samples.numpy().astype(np.int64)
        self.assertGreaterEqual(values.min(), 0)
        self.assertLessEqual(values.max(), top)
        self.assertAllEqual(samples, model.sample(5, seed=7))
        self.assertAllEqual(samples, model.sample(5, seed=tf.constant([7, 0])))
        self.assertNotAllEqual(samples, model.sample(5, seed=8))
        self.assertTrue(np.all(np.isfinite(model.log_prob(samples).numpy())))

    def test_sample_and_log_prob_shapes_follow_tfp_conventions(self):
        shape = (2, 3, 1)
        model = perturbed(PixelCNN(shape, **dict(TINY, num_classes=4)))
        self.assertEqual(model.event_shape, shape)
        self.assertEqual(model.batch_shape, [])
        self.assertEqual(model.sample(label=1, seed=1).shape, shape)
        self.assertEqual(model.sample([2, 3], label=1, seed=1).shape, (2, 3, *shape))
        label = tf.constant([0, 1, 3])
        samples = model.sample(2, label=label, seed=1)
        self.assertEqual(samples.shape, (2, 3, *shape))
        log_prob = model.log_prob(samples, label=label)
        self.assertEqual(log_prob.shape, (2, 3))
        self.assertAllClose(log_prob[1], model.log_prob(samples[1], label=label))
        self.assertAllClose(log_prob[1, 2], model.log_prob(samples[1, 2], label=3))

    def test_different_labels_give_different_log_probs(self):
        model = perturbed(PixelCNN((3, 3, 1), **dict(TINY, num_classes=3)))
        images = np.random.default_rng(1).integers(0, 256, (1, 3, 3, 1))
        log_probs = [float(model.log_prob(images, label=[y])[0]) for y in range(3)]
        self.assertLen(set(np.round(log_probs, 3)), 3)

    def test_gradients_reach_every_trainable_variable(self):
        model = perturbed(PixelCNN((3, 3, 3), **dict(TINY, num_classes=2)))
        images = np.random.default_rng(2).integers(0, 256, (4, 3, 3, 3)).astype(np.uint8)
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(model.log_prob(images, label=[0, 1, 1, 0]))
        variables = model.trainable_variables
        self.assertNotEmpty(variables)
        for variable, gradient in zip(variables, tape.gradient(loss, variables)):
            self.assertIsNotNone(gradient, variable.name)
            gradient = tf.convert_to_tensor(gradient)
            self.assertTrue(bool(tf.reduce_all(tf.math.is_finite(gradient))), variable.name)
            self.assertGreater(float(tf.reduce_max(tf.abs(gradient))), 0.0, variable.name)

    def test_dynamic_batch_inside_tf_function(self):
        shape = (3, 3, 1)
        model = perturbed(PixelCNN(shape, 'bernoulli', **dict(TINY, num_classes=2)))
        log_prob = tf.function(
            lambda x, y: model.log_prob(x, label=y),
            input_signature=[
                tf.TensorSpec([None, *shape], tf.uint8),
                tf.TensorSpec([None], tf.int32),
            ],
        )
        sample = tf.function(
            lambda n, y, seed: model.sample(n, label=y, seed=seed),
            input_signature=[
                tf.TensorSpec([], tf.int32),
                tf.TensorSpec([None], tf.int32),
                tf.TensorSpec([2], tf.int32),
            ],
        )
        for batch in (1, 3):
            images = np.random.default_rng(batch).integers(0, 2, (batch, *shape)).astype(np.uint8)
            label = tf.ones([batch], tf.int32)
            self.assertAllClose(log_prob(images, label), model.log_prob(images, label=label))
            samples = sample(2, label, tf.constant([4, 5]))
            self.assertEqual(samples.shape, (2, batch, *shape))
            self.assertAllEqual(samples, model.sample(2, label=label, seed=[4, 5]))

    def test_restored_checkpoint_gives_the_same_log_prob(self):
        shape = (3, 3, 3)
        original = perturbed(PixelCNN(shape, 'logistic_mixture', **dict(TINY, num_classes=2)))
        images = np.random.default_rng(3).integers(0, 256, (2, *shape))
        expected = original.log_prob(images, label=[0, 1])
        path = tf.train.Checkpoint(model=original).save(self.get_temp_dir() + '/ckpt')
        restored = PixelCNN(shape, 'logistic_mixture', **dict(TINY, num_classes=2, seed=9))
        self.assertNotAllClose(restored.log_prob(images, label=[0, 1]), expected)
        tf.train.Checkpoint(model=restored).restore(path).assert_consumed()
        self.assertAllClose(restored.log_prob(images, label=[0, 1]), expected)

    def test_same_seed_same_model(self):
        images = np.random.default_rng(4).integers(0, 256, (2, 3, 3, 1))
        a, b, c = (perturbed(PixelCNN((3, 3, 1), **dict(TINY, seed=s))) for s in (5, 5, 6))
        self.assertAllEqual(a.log_prob(images), b.log_prob(images))
        self.assertNotAllClose(a.log_prob(images), c.log_prob(images))

    @parameterized.named_parameters(
        ('unknown_output', dict(output='softmax'), "output must be one of \\('categorical'"),
        ('bad_shape', dict(image_shape=(8, 8)), r'image_shape must be \(H, W, C\)'),
        ('even_kernel', dict(kernel_size=4), 'odd integers >= 3'),
        ('zero_layers', dict(num_layers=0), 'num_layers must be an integer >= 1'),
        ('narrow', dict(hidden_width=2), 'hidden_width must be an integer >= C=3'),
        ('no_mixtures', dict(output='logistic_mixture', num_mixtures=0), 'num_mixtures'),
        ('float_images', dict(image_dtype=tf.float32), 'image_dtype must be an integer'),
        ('int_weights', dict(dtype=tf.int32), 'dtype must be a floating'),
    )
    def test_bad_construction_raises_clear_value_error(self, overrides, message):
        options = dict(image_shape=(4, 4, 3))
        options.update(overrides)
        with self.assertRaisesRegex(ValueError, message):
            PixelCNN(**options)

    def test_defaults_build_a_working_model(self):
        model = PixelCNN((6, 6, 1))
        images = np.zeros([1, 6, 6, 1], np.uint8)
        self.assertAllClose(model.log_prob(images), [-36 * np.log(256.0)], rtol=1e-5)
        self.assertEqual(model.output, 'categorical')

    def test_bad_inputs_raise_clear_value_errors(self):
        shape = (3, 3, 1)
        model = PixelCNN(shape, **dict(TINY, num_classes=2))
        good = np.zeros([2, *shape], np.int32)
        label = [0, 1]
        with self.assertRaisesRegex(ValueError, 'must be an integer tensor .* got dtype float32'):
            model.log_prob(good.astype(np.float32), label=label)
        with self.assertRaisesRegex(ValueError, r'built for images of shape \(3, 3, 1\)'):
            model.log_prob(np.zeros([2, 3, 3, 3], np.int32), label=label)
        with self.assertRaisesRegex(ValueError, r'\[\.\.\., H, W, C\]'):
            model.log_prob(np.zeros([3, 3], np.int32), label=label)
        with self.assertRaisesRegex(ValueError, r'values in \{0, ..., 255\}.* \[0, 256\]'):
            model.log_prob(good + 256 * np.eye(3, dtype=np.int32)[None, :, :, None], label=label)
        with self.assertRaisesRegex(ValueError, r'got values in \[-1, -1\]'):
            model.log_prob(good - 1, label=label)
        with self.assertRaisesRegex(ValueError, 'pass label'):
            model.log_prob(good)
        with self.assertRaisesRegex(ValueError, 'label must be an integer'):
            model.log_prob(good, label=[0.0, 1.0])
        with self.assertRaisesRegex(ValueError, r'label must be in \[0, 2\)'):
            model.log_prob(good, label=[0, 2])
        with self.assertRaisesRegex(ValueError, 'conditioning has batch shape'):
            model.log_prob(good, label=[0, 1, 1])
        with self.assertRaisesRegex(ValueError, 'takes no support'):
            model.log_prob(good, label=label, support=good[:, None])
        with self.assertRaisesRegex(ValueError, 'pass label'):
            model.sample(2, seed=1)
        binary = PixelCNN(shape, 'bernoulli', **TINY)
        with self.assertRaisesRegex(ValueError, r'\{0, ..., 1\}'):
            binary.log_prob(good + 2)
        with self.assertRaisesRegex(ValueError, 'not class-conditional'):
            binary.log_prob(good, label=label)

    def test_validate_args_checks_values_at_run_time(self):
        model = PixelCNN((2, 2, 1), 'bernoulli', validate_args=True, **TINY)
        log_prob = tf.function(lambda x: model.log_prob(x))
        self.assertAllEqual(log_prob(tf.ones([1, 2, 2, 1], tf.int32)).shape, [1])
        with self.assertRaisesOpError('x must be <= 1'):
            log_prob(tf.fill([1, 2, 2, 1], 2))


if __name__ == '__main__':
    tf.test.main()
