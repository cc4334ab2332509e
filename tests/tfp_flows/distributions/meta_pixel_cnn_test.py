"""MetaPixelCNN: the inner loop, normalisation, the phi_0 model, gradients, sets and masks."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from tests.tfp_flows.distributions import support_checks
from tests.tfp_flows.distributions.pixel_cnn_test import (
    all_images,
    assert_causal,
    frequencies,
    perturbed,
    total_probability,
)
from tfp_flows.distributions.meta_pixel_cnn import MetaPixelCNN
from tfp_flows.distributions.pixel_cnn import PixelCNN

TINY = dict(
    num_layers=3,
    hidden_width=12,
    head_width=12,
    first_kernel_size=3,
    condition_width=4,
    inner_steps=2,
    inner_loss_width=8,
    inner_loss_layers=1,
    seed=0,
)


def _images(shape, count, max_value, seed=0):
    return np.random.default_rng(seed).integers(0, max_value + 1, (count, *shape)).astype(np.int32)


def _support(batch, size, shape, max_value, seed=0):
    return _images(shape, batch * size, max_value, seed).reshape(batch, size, *shape)


def _binary_targets_and_sets(shape, count):
    """`count` binary targets and `count` support sets of 2 binary images each."""
    return _images(shape, count, 1, seed=1), _support(count, 2, shape, 1, seed=2)


def _model(shape, output='bernoulli', scale=0.3, **options):
    """A perturbed model (non-trivial head, phi_0 and step sizes near their initial values)."""
    return perturbed(MetaPixelCNN(shape, output, **dict(TINY, **options)), scale)


def _loss_and_gradients(model, images, support):
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(model.log_prob(images, support=support))
    variables = model.trainable_variables
    return loss, dict(zip([v.name for v in variables], tape.gradient(loss, variables)))


class MetaPixelCNNTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.named_parameters(
        ('bernoulli_rgb', 'bernoulli', (4, 4, 3), 0),
        ('categorical_gray', 'categorical', (3, 3, 1), 0),
        ('bernoulli_rgb_spatial', 'bernoulli', (4, 4, 3), 2),
        ('categorical_gray_spatial', 'categorical', (3, 3, 1), 3),
    )
    def test_each_sub_pixel_depends_on_all_earlier_and_no_later_ones(self, output, shape, grid):
        model = _model(shape, output, condition_grid=grid)
        support = _support(1, 2, shape, model.max_value)
        assert_causal(self, lambda x: model.output_parameters(x, support=support), shape)

    @parameterized.named_parameters(('vector', 0), ('spatial', 2))
    def test_inner_steps_reduce_the_inner_loss_on_the_support(self, grid):
        shape = (4, 4, 1)
        support = _support(3, 2, shape, 1)
        mask = np.array([[True, True], [True, False], [False, True]])
        losses = []
        for steps in range(4):
            # Same seed and perturbation: the same weights, adapted for 0..3 steps.
            model = _model(shape, inner_steps=steps, inner_step_size=0.05, condition_grid=grid)
            conditions = model.adapt(support, mask)
            losses.append(model.inner_loss(conditions, support, mask).numpy())
        losses = np.array(losses)  # [steps, sets]
        self.assertTrue(np.all(np.diff(losses, axis=0) < 0), losses)
        self.assertTrue(np.all(losses[0] - losses[-1] > 1e-3), losses)

    def test_without_adaptation_it_is_its_unconditioned_pixel_cnn(self):
        """Zero inner steps, no support, or a set with no valid slot: phi_0, i.e. a PixelCNN whose
        horizontal biases include P_l phi_0."""
        shape = (3, 3, 1)
        model = _model(shape, inner_steps=0)
        model.initial_condition.assign([0.5, -1.0, 0.3, 0.8])
        architecture = dict(num_layers=3, hidden_width=12, head_width=12, first_kernel_size=3)
        plain = PixelCNN(shape, 'bernoulli', **architecture)
        for source, target in zip(model.network.variables, plain.network.variables):
            target.assign(source)
        biases = model.layer_biases(model.initial_condition[None])
        for layer, bias in zip(plain.network.layers[1:], biases):
            layer.horizontal.bias.assign_add(bias[0])
        images, support = _binary_targets_and_sets(shape, 4)
        expected = plain.log_prob(images)
        self.assertAllClose(model.log_prob(images, support=support), expected, atol=1e-5)
        self.assertAllClose(model.log_prob(images), expected, atol=1e-5)
        adapting = _model(shape, inner_steps=2)
        adapting.initial_condition.assign(model.initial_condition)
        nothing = np.zeros([4, 2], bool)
        self.assertAllClose(adapting.log_prob(images), expected, atol=1e-5)
        self.assertAllClose(
            adapting.log_prob(images, support=support, support_mask=nothing), expected, atol=1e-5
        )
        # Adapting does change the model.
        self.assertNotAllClose(adapting.log_prob(images, support=support), expected, atol=1e-3)

    @parameterized.named_parameters(
        ('second_order', False, 0), ('first_order', True, 0), ('spatial', False, 3)
    )
    def test_probabilities_of_all_3x3_binary_images_sum_to_one(self, first_order, grid):
        shape = (3, 3, 1)
        model = _model(shape, first_order=first_order, condition_grid=grid)
        support = _support(1, 3, shape, 1)
        self.assertAllClose(total_probability(model, shape, support=support), 1.0, atol=2e-5)
        mask = np.array([[True, False, True]])
        total = total_probability(model, shape, support=support, support_mask=mask)
        self.assertAllClose(total, 1.0, atol=2e-5)
        self.assertAllClose(total_probability(model, shape), 1.0, atol=2e-5)

    @parameterized.named_parameters(('vector', 0), ('spatial', 3))
    def test_invariant_to_the_order_of_the_support_and_blind_to_masked_slots(self, grid):
        shape = (3, 3, 3)
        model = _model(shape, 'categorical', condition_grid=grid)
        images = _images(shape, 2, 255, seed=1)
        support = _support(2, 4, shape, 255)
        mask = np.array([[True, True, False, True], [False, True, True, False]])
        expected = model.log_prob(images, support=support, support_mask=mask)
        order = [3, 0, 2, 1]
        permuted = model.log_prob(images, support=support[:, order], support_mask=mask[:, order])
        self.assertAllClose(permuted, expected, atol=1e-5)
        scrambled = support.copy()
        scrambled[~mask] = 255 - scrambled[~mask]
        self.assertAllClose(
            model.log_prob(images, support=scrambled, support_mask=mask), expected, atol=1e-6
        )
        # Dropping the masked slots gives the result of masking them; 0/1 masks work too.
        first = model.log_prob(images[:1], support=support[:1, [0, 1, 3]])
        self.assertAllClose(first, expected[:1], atol=1e-5)
        as_ints = model.log_prob(images, support=support, support_mask=mask.astype(np.int32))
        self.assertAllEqual(as_ints, expected)
        # A visible slot does matter.
        changed = support.copy()
        changed[0, 0] = 255 - changed[0, 0]
        changed_log_prob = model.log_prob(images, support=changed, support_mask=mask)
        self.assertGreater(abs(float(changed_log_prob[0] - expected[0])), 1e-4)

    @parameterized.named_parameters(('vector', 0), ('spatial', 3))
    def test_second_order_gradients_reach_the_inner_loss_and_the_step_sizes(self, grid):
        shape = (3, 3, 1)
        model = _model(shape, condition_grid=grid)
        images, support = _binary_targets_and_sets(shape, 2)
        _, gradients = _loss_and_gradients(model, images, support)
        for name, gradient in gradients.items():
            self.assertIsNotNone(gradient, name)
            self.assertTrue(bool(tf.reduce_all(tf.math.is_finite(gradient))), name)
            self.assertGreater(float(tf.reduce_max(tf.abs(gradient))), 0.0, name)
        self.assertTrue(any('inner_loss' in name for name in gradients), list(gradients))

    def test_first_order_stops_gradients_through_the_inner_gradients(self):
        shape = (3, 3, 1)
        images, support = _binary_targets_and_sets(shape, 2)
        second = _model(shape)
        first = _model(shape, first_order=True)
        second_loss, second_gradients = _loss_and_gradients(second, images, support)
        first_loss, first_gradients = _loss_and_gradients(first, images, support)
        self.assertAllClose(first_loss, second_loss, atol=1e-6)
        for name, gradient in first_gradients.items():
            if 'inner_loss' in name:
                self.assertIsNone(gradient, name)
            else:
                self.assertGreater(float(tf.reduce_max(tf.abs(gradient))), 0.0, name)
        step = 'MetaPixelCNN/step_size_parameter:0'
        self.assertNotAllClose(first_gradients[step], second_gradients[step], atol=1e-6)

        # Cheaper: the first-order training graph has far fewer operations.
        def operations(model):
            spec = [
                tf.TensorSpec([None, *shape], tf.int32),
                tf.TensorSpec([None, None, *shape], tf.int32),
            ]
            function = tf.function(lambda x, s: _loss_and_gradients(model, x, s)[0])
            return len(function.get_concrete_function(*spec).graph.get_operations())

        self.assertLess(operations(first), 0.8 * operations(second))

    @parameterized.named_parameters(('vector', 0), ('spatial', 3))
    def test_sampler_matches_the_parallel_pass_under_teacher_forcing(self, grid):
        shape = (3, 3, 3)
        model = _model(shape, 'categorical', condition_grid=grid)
        images = tf.constant(_images(shape, 4, 255), tf.int32)
        support = _support(2, 2, shape, 255, seed=1)
        mask = tf.constant([[True, False], [True, True]])
        conditioning = model._conditioning(support=support, support_mask=mask)

        @tf.function
        def teacher_forced():
            def draw(params, row, col, channel):
                value = images[:, row, col, channel]
                return value, model.preprocess(value)

            # Two samples per set, sample-major as in sample(2, support=...): [S=2, B=2].
            conditioner = model._conditioner(conditioning, tf.constant([2, 2]))
            return model.network.autoregress(
                tf.constant(4), draw, conditioner=conditioner, return_parameters=True
            )

        values, params = teacher_forced()
        self.assertAllEqual(values, images)
        expected = model.output_parameters(
            model.preprocess(tf.reshape(images, [2, 2, *shape])), support=support, support_mask=mask
        )
        self.assertAllClose(params, tf.reshape(expected, params.shape), atol=1e-4)

    def test_samples_follow_the_model_distribution_for_each_set(self):
        shape = (2, 2, 1)
        model = _model(shape, scale=1.0)
        support = _support(2, 2, shape, 1, seed=4)
        samples = model.sample(3000, support=support, seed=3).numpy()
        self.assertEqual(samples.shape, (3000, 2, *shape))
        pmfs = []
        for index in range(2):
            log_prob = model.log_prob(all_images(shape, 1), support=support[index : index + 1])
            pmfs.append(np.exp(log_prob.numpy()))
            empirical = frequencies(samples[:, index], shape, 1)
            self.assertLess(0.5 * np.abs(empirical - pmfs[-1]).sum(), 0.05, index)
        self.assertGreater(0.5 * np.abs(pmfs[0] - pmfs[1]).sum(), 0.02)
        self.assertEqual(model.sample(3, seed=1).shape, (3, *shape))

    def test_dynamic_batch_and_support_size_inside_tf_function(self):
        shape = (3, 3, 1)
        model = _model(shape)
        support_checks.assert_dynamic_batch_and_support_size(self, model, shape)

    def test_restored_checkpoint_gives_the_same_log_prob(self):
        shape = (2, 3, 1)
        original = _model(shape)
        images = _images(shape, 2, 1)
        support = _support(2, 3, shape, 1, seed=5)
        expected = original.log_prob(images, support=support)
        path = tf.train.Checkpoint(model=original).save(self.get_temp_dir() + '/ckpt')
        restored = MetaPixelCNN(shape, 'bernoulli', **dict(TINY, seed=4))
        self.assertNotAllClose(restored.log_prob(images, support=support), expected)
        tf.train.Checkpoint(model=restored).restore(path).assert_consumed()
        self.assertAllClose(restored.log_prob(images, support=support), expected)

    @parameterized.named_parameters(('vector', 0), ('spatial', 3))
    def test_adapted_conditions_score_and_sample_as_their_support(self, grid):
        shape = (3, 3, 1)
        model = _model(shape, condition_grid=grid)
        images, support = _binary_targets_and_sets(shape, 3)
        mask = np.array([[True, True], [True, False], [False, False]])
        conditions = model.adapt(support, mask)
        self.assertEqual(conditions.shape, (3, *model.condition_shape))
        self.assertAllClose(
            model.log_prob(images, conditions=conditions),
            model.log_prob(images, support=support, support_mask=mask),
        )
        self.assertAllEqual(
            model.sample(5, conditions=conditions, seed=3),
            model.sample(5, support=support, support_mask=mask, seed=3),
        )
        # Each row is its own set's phi: gathering rows reorders the sets.
        order = [2, 0, 1]
        self.assertAllClose(
            model.log_prob(images[order], conditions=tf.gather(conditions, order)),
            model.log_prob(images[order], support=support[order], support_mask=mask[order]),
        )

    def test_outer_gradients_flow_through_given_conditions(self):
        shape = (3, 3, 1)
        model = _model(shape)
        images, support = _binary_targets_and_sets(shape, 2)
        _, expected = _loss_and_gradients(model, images, support)
        with tf.GradientTape() as tape:
            conditions = model.adapt(support)
            loss = -tf.reduce_mean(model.log_prob(images, conditions=conditions))
        variables = model.trainable_variables
        for variable, gradient in zip(variables, tape.gradient(loss, variables)):
            self.assertAllClose(gradient, expected[variable.name], msg=variable.name)

    def test_a_one_cell_grid_is_the_vector_model(self):
        shape = (4, 4, 1)
        vector, one_cell = _model(shape), _model(shape, condition_grid=1)
        self.assertEqual(one_cell.condition_shape, (1, 1, 4))
        images, support = _binary_targets_and_sets(shape, 3)
        self.assertAllClose(
            one_cell.log_prob(images, support=support),
            vector.log_prob(images, support=support),
            atol=1e-5,
        )

    def test_a_spatial_phi_cell_conditions_only_its_pixels_and_later_ones(self):
        shape = (4, 4, 1)
        model = _model(shape, inner_steps=0, condition_grid=2)
        images = _images(shape, 2, 1, seed=1)
        before = model.output_parameters(images).numpy()
        # Only the bottom-right cell (rows and columns 2..3) changes.
        delta = np.zeros(model.condition_shape, np.float32)
        delta[1, 1] = [1.0, -2.0, 3.0, 1.0]
        model.initial_condition.assign_add(delta)
        after = model.output_parameters(images).numpy()
        changed = np.abs(after - before).reshape(2, 16, -1).max(axis=(0, 2)) > 1e-5
        # Raster order: pixel (2, 2) is the cell's first; every pixel before it is untouched.
        self.assertFalse(changed[: 2 * 4 + 2].any(), changed)
        self.assertTrue(changed[2 * 4 + 2], changed)

    def test_defaults_build_a_pixel_cnn_with_learned_step_sizes(self):
        model = MetaPixelCNN((4, 4, 1), inner_step_size=0.3)
        self.assertIsInstance(model, PixelCNN)
        self.assertEqual((model.inner_steps, model.first_order), (1, False))
        self.assertAllClose(model.step_size, np.full([32], 0.3))
        images = np.zeros([1, 4, 4, 1], np.uint8)
        log_prob = model.log_prob(images, support=np.zeros([1, 2, 4, 4, 1], np.uint8))
        self.assertAllClose(log_prob, [-16 * np.log(256.0)], rtol=1e-5)

    @parameterized.named_parameters(
        ('one_layer', dict(num_layers=1), 'num_layers must be an integer >= 2'),
        ('negative_steps', dict(inner_steps=-1), 'inner_steps must be an integer >= 0'),
        ('zero_step_size', dict(inner_step_size=0.0), 'inner_step_size must be a number > 0'),
        ('nan_step_size', dict(inner_step_size=float('nan')), 'inner_step_size must be'),
        ('no_condition', dict(condition_width=0), 'condition_width must be an integer >= 1'),
        ('negative_grid', dict(condition_grid=-1), 'condition_grid must be an integer >= 0'),
        ('grid_not_dividing', dict(condition_grid=3), 'condition_grid must divide .* 4x4; got 3'),
        ('first_order_int', dict(first_order=1), 'first_order must be True or False'),
        ('no_loss_layers', dict(inner_loss_layers=0), 'inner loss num_layers must be'),
        ('unknown_output', dict(output='gaussian'), 'output must be one of'),
    )
    def test_bad_construction_raises_clear_value_error(self, overrides, message):
        with self.assertRaisesRegex(ValueError, message):
            MetaPixelCNN((4, 4, 3), **dict(TINY, **overrides))

    def test_bad_inputs_raise_clear_value_errors(self):
        shape = (3, 3, 1)
        model = MetaPixelCNN(shape, 'bernoulli', **TINY)
        support_checks.assert_clear_support_errors(self, model, shape)
        with self.assertRaisesRegex(ValueError, 'inner_loss needs a support set'):
            model.inner_loss(np.zeros([2, 4], np.float32), None)
        images = _images(shape, 2, 1)
        with self.assertRaisesRegex(ValueError, 'either a support set or adapted conditions'):
            model.log_prob(images, support=_support(2, 1, shape, 1), conditions=np.zeros([2, 4]))
        with self.assertRaisesRegex(ValueError, r'conditions must be phi, float \[B, 4\]'):
            model.log_prob(images, conditions=np.zeros([2, 5]))
        with self.assertRaisesRegex(ValueError, r'conditions must be phi, float \[B, 4\]'):
            model.inner_loss(np.zeros([2, 3, 3, 4]), _support(2, 1, shape, 1))
        spatial = MetaPixelCNN(shape, 'bernoulli', **dict(TINY, condition_grid=3))
        with self.assertRaisesRegex(ValueError, r'conditions must be phi, float \[B, 3, 3, 4\]'):
            spatial.log_prob(images, conditions=np.zeros([2, 4]))


if __name__ == '__main__':
    tf.test.main()
