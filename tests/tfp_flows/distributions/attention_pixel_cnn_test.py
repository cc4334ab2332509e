"""AttentionPixelCNN: causality, normalisation, support masking, learning to use the support."""

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
from tfp_flows.distributions.attention_pixel_cnn import AttentionPixelCNN
from tfp_flows.distributions.pixel_cnn import PixelCNN

TINY = dict(
    num_layers=3,
    hidden_width=12,
    head_width=12,
    first_kernel_size=3,
    num_heads=3,
    key_width=4,
    value_width=4,
    encoder_width=8,
    encoder_layers=1,
    num_frequencies=2,
    seed=0,
)


def _support(batch, size, shape, max_value, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, max_value + 1, (batch, size, *shape)).astype(np.int32)


def _assert_learns_to_use_the_support(test, model, shape, k=2):
    """A few dozen Adam steps on episodes whose support holds noisy copies of the target (10% of
    pixels flipped); then, on new random targets, K exact copies must beat an unrelated support.
    Random bits are unpredictable without the support (log 2 nats per pixel), so only reading the
    right support content can make the difference."""
    optimizer = tf.keras.optimizers.Adam(1e-2)

    @tf.function
    def train_step(seed):
        target_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        targets = tf.random.stateless_uniform([32, *shape], target_seed) < 0.5
        flips = tf.random.stateless_uniform([32, k, *shape], flip_seed) < 0.1
        support = tf.cast(tf.not_equal(targets[:, None], flips), tf.int32)
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(model.log_prob(tf.cast(targets, tf.int32), support=support))
        variables = model.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    rng = np.random.default_rng(123)
    targets = rng.integers(0, 2, (64, *shape))
    copies = np.repeat(targets[:, None], k, axis=1)
    unrelated = rng.integers(0, 2, (64, k, *shape))
    for step in range(60):
        train_step(tf.constant([step, 7]))
    with_copies = model.log_prob(targets, support=copies).numpy().mean()
    with_unrelated = model.log_prob(targets, support=unrelated).numpy().mean()
    test.assertGreater(with_copies, with_unrelated + 3.0)
    test.assertGreater(with_copies, -16 * np.log(2.0) + 2.0)


def _assert_sampler_matches_the_parallel_pass(test, model, label=None):
    """Teacher-forced through the sampler's pixel loop, a [3, 3, 3] model's output parameters
    equal those of the parallel pass, for two samples of each of two sets (one slot masked)."""
    shape = model.image_shape
    rng = np.random.default_rng(0)
    images = tf.constant(rng.integers(0, 256, (4, *shape)), tf.int32)
    # Two samples per set, sample-major as in sample(2, support=...): [S=2, B=2].
    support = tf.constant(rng.integers(0, 256, (2, 2, *shape)), tf.int32)
    mask = tf.constant([[True, False], [True, True]])
    conditioning = model._conditioning(label=label, support=support, support_mask=mask)

    @tf.function
    def teacher_forced():
        def draw(params, row, col, channel):
            value = images[:, row, col, channel]
            return value, model.preprocess(value)

        leading = tf.constant([2, 2])
        return model.network.autoregress(
            tf.constant(4),
            draw,
            label=model._flat_label(conditioning, leading),
            conditioner=model._conditioner(conditioning, leading),
            return_parameters=True,
        )

    values, params = teacher_forced()
    test.assertAllEqual(values, images)
    expected = model.output_parameters(
        model.preprocess(tf.reshape(images, [2, 2, *shape])),
        label=label,
        support=support,
        support_mask=mask,
    )
    test.assertAllClose(params, tf.reshape(expected, params.shape), atol=1e-4)


class AttentionPixelCNNTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.named_parameters(
        ('bernoulli_rgb', 'bernoulli', (4, 4, 3), dict(num_layers=4)),
        ('categorical_gray', 'categorical', (3, 3, 1), dict(num_heads=2)),
        ('logistic_rgb_two_heads_per_channel', 'logistic_mixture', (2, 3, 3), dict(num_heads=6)),
        ('pooled_support', 'categorical', (4, 4, 3), dict(support_pool=2)),
        ('support_map', 'bernoulli', (4, 4, 3), dict(map_width=4, map_layers=1)),
        ('support_map_only', 'categorical', (3, 3, 1), dict(map_width=4, attention_layers=())),
    )
    def test_each_sub_pixel_depends_on_all_earlier_and_no_later_ones(self, output, shape, options):
        model = perturbed(AttentionPixelCNN(shape, output, **dict(TINY, **options)))
        support = _support(1, 2, shape, model.max_value)
        assert_causal(self, lambda x: model.output_parameters(x, support=support), shape)

    def test_probabilities_of_all_images_sum_to_one_given_a_support(self):
        model = perturbed(AttentionPixelCNN((2, 2, 1), 'bernoulli', **TINY))
        support = _support(1, 3, (2, 2, 1), 1)
        self.assertAllClose(total_probability(model, (2, 2, 1), support=support), 1.0, atol=2e-5)
        mask = np.array([[True, False, True]])
        total = total_probability(model, (2, 2, 1), support=support, support_mask=mask)
        self.assertAllClose(total, 1.0, atol=2e-5)

    def test_masked_support_slots_change_nothing(self):
        shape = (3, 3, 3)
        model = perturbed(AttentionPixelCNN(shape, **TINY))
        images = _support(2, 1, shape, 255, seed=1)[:, 0]
        support = _support(2, 3, shape, 255)
        mask = np.array([[True, True, False], [False, True, False]])
        expected = model.log_prob(images, support=support, support_mask=mask)
        scrambled = support.copy()
        scrambled[~mask] = 255 - scrambled[~mask]
        self.assertAllEqual(model.log_prob(images, support=scrambled, support_mask=mask), expected)
        # Dropping the masked slots altogether gives the same result as masking them.
        first = model.log_prob(images[:1], support=support[:1, :2])
        self.assertAllClose(first, expected[:1], atol=1e-5)
        # 0/1 integer masks are accepted as well as bool ones.
        as_ints = model.log_prob(images, support=support, support_mask=mask.astype(np.int32))
        self.assertAllEqual(as_ints, expected)

    def test_pooled_support_masks_whole_slots_and_reads_every_pixel(self):
        shape = (4, 4, 1)
        model = perturbed(AttentionPixelCNN(shape, 'bernoulli', **dict(TINY, support_pool=2)))
        self.assertEqual(model.support_positions_per_image, 4)
        images = _support(2, 1, shape, 1, seed=1)[:, 0]
        support = _support(2, 3, shape, 1)
        mask = np.array([[True, False, True], [False, True, False]])
        expected = model.log_prob(images, support=support, support_mask=mask)
        scrambled = support.copy()
        scrambled[~mask] = 1 - scrambled[~mask]
        self.assertAllEqual(model.log_prob(images, support=scrambled, support_mask=mask), expected)
        # Pooling averages a patch, it does not subsample it: every support pixel still counts.
        for row, col in [(0, 0), (1, 1), (3, 2)]:
            changed = support.copy()
            changed[:, :, row, col] = 1 - changed[:, :, row, col]
            changed_log_prob = model.log_prob(images, support=changed, support_mask=mask)
            self.assertTrue(np.all(np.abs(changed_log_prob - expected) > 1e-6))

    def test_changing_a_visible_slot_changes_the_log_prob(self):
        shape = (3, 3, 1)
        model = perturbed(AttentionPixelCNN(shape, 'bernoulli', **TINY))
        images = _support(2, 1, shape, 1, seed=1)[:, 0]
        support = _support(2, 2, shape, 1, seed=2)
        mask = np.array([[True, False], [True, True]])
        before = model.log_prob(images, support=support, support_mask=mask).numpy()
        changed = support.copy()
        changed[:, 0] = 1 - changed[:, 0]
        after = model.log_prob(images, support=changed, support_mask=mask).numpy()
        self.assertTrue(np.all(np.abs(before - after) > 1e-4), (before, after))

    def test_a_set_with_no_valid_slot_is_finite_and_trainable(self):
        shape = (2, 2, 1)
        model = perturbed(AttentionPixelCNN(shape, 'bernoulli', **TINY))
        images = _support(2, 1, shape, 1)[:, 0]
        support = _support(2, 2, shape, 1, seed=3)
        nothing = np.zeros([2, 2], bool)
        with tf.GradientTape() as tape:
            log_prob = model.log_prob(images, support=support, support_mask=nothing)
        gradients = tape.gradient(log_prob, model.trainable_variables)
        self.assertTrue(bool(tf.reduce_all(tf.math.is_finite(log_prob))))
        for variable, gradient in zip(model.trainable_variables, gradients):
            if gradient is not None:
                self.assertTrue(bool(tf.reduce_all(tf.math.is_finite(gradient))), variable.name)
        # No valid slot: every attention read is zero, whatever the (masked) support holds.
        other = model.log_prob(images, support=1 - support, support_mask=nothing)
        self.assertAllEqual(log_prob, other)
        self.assertAllClose(
            total_probability(model, shape, support=support[:1], support_mask=nothing[:1]),
            1.0,
            atol=2e-5,
        )

    def test_learns_to_use_the_support(self):
        """Attention alone learns to read the support (see _assert_learns_to_use_the_support)."""
        shape = (4, 4, 1)
        options = dict(TINY, hidden_width=16, head_width=16, attention_layers=(1, 2))
        options.update(num_heads=2, key_width=8, value_width=8)
        model = AttentionPixelCNN(shape, 'bernoulli', **options)
        _assert_learns_to_use_the_support(self, model, shape)

    def test_sampler_matches_the_parallel_pass_under_teacher_forcing(self):
        model = perturbed(AttentionPixelCNN((3, 3, 3), **dict(TINY, num_classes=2, support_pool=3)))
        _assert_sampler_matches_the_parallel_pass(self, model, label=tf.constant([1, 0]))

    def test_samples_follow_the_model_distribution_for_each_set(self):
        shape = (2, 2, 1)
        model = perturbed(AttentionPixelCNN(shape, 'bernoulli', **TINY), 1.0)
        support = _support(2, 2, shape, 1, seed=4)
        samples = model.sample(3000, support=support, seed=3).numpy()
        self.assertEqual(samples.shape, (3000, 2, *shape))
        pmfs = []
        for index in range(2):
            log_prob = model.log_prob(all_images(shape, 1), support=support[index : index + 1])
            pmfs.append(np.exp(log_prob.numpy()))
            empirical = frequencies(samples[:, index], shape, 1)
            self.assertLess(0.5 * np.abs(empirical - pmfs[-1]).sum(), 0.05, index)
        self.assertGreater(0.5 * np.abs(pmfs[0] - pmfs[1]).sum(), 0.05)

    def test_samples_have_shape_dtype_range_and_are_deterministic(self):
        shape = (3, 2, 3)
        model = perturbed(AttentionPixelCNN(shape, **dict(TINY, num_classes=3)))
        support = _support(2, 3, shape, 255)
        mask = [[True, True, False], [True, False, False]]
        kwargs = dict(support=support, support_mask=mask, label=[2, 0])
        samples = model.sample(4, seed=11, **kwargs)
        self.assertEqual(samples.shape, (4, 2, *shape))
        self.assertEqual(samples.dtype, tf.int32)
        self.assertGreaterEqual(int(tf.reduce_min(samples)), 0)
        self.assertLessEqual(int(tf.reduce_max(samples)), 255)
        self.assertAllEqual(samples, model.sample(4, seed=11, **kwargs))
        self.assertNotAllEqual(samples, model.sample(4, seed=12, **kwargs))
        self.assertEqual(model.log_prob(samples, **kwargs).shape, (4, 2))
        self.assertEqual(model.sample(support=support, label=1, seed=1).shape, (2, *shape))

    def test_dynamic_batch_and_support_size_inside_tf_function(self):
        shape = (3, 3, 1)
        model = perturbed(AttentionPixelCNN(shape, 'bernoulli', **TINY))
        support_checks.assert_dynamic_batch_and_support_size(self, model, shape)

    def test_gradients_reach_every_trainable_variable(self):
        shape = (3, 3, 3)
        model = perturbed(AttentionPixelCNN(shape, 'logistic_mixture', **TINY, num_mixtures=2))
        images = _support(2, 1, shape, 255)[:, 0]
        support = _support(2, 2, shape, 255, seed=1)
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(model.log_prob(images, support=support))
        variables = model.trainable_variables
        names = [variable.name for variable in variables]
        self.assertTrue(any('support_encoder' in name for name in names), names)
        self.assertTrue(any('attention' in name for name in names), names)
        for variable, gradient in zip(variables, tape.gradient(loss, variables)):
            self.assertIsNotNone(gradient, variable.name)
            self.assertTrue(bool(tf.reduce_all(tf.math.is_finite(gradient))), variable.name)
            self.assertGreater(float(tf.reduce_max(tf.abs(gradient))), 0.0, variable.name)

    def test_restored_checkpoint_gives_the_same_log_prob(self):
        shape = (2, 3, 1)
        original = perturbed(AttentionPixelCNN(shape, 'bernoulli', **TINY))
        images = _support(2, 1, shape, 1)[:, 0]
        support = _support(2, 3, shape, 1, seed=5)
        expected = original.log_prob(images, support=support)
        path = tf.train.Checkpoint(model=original).save(self.get_temp_dir() + '/ckpt')
        restored = AttentionPixelCNN(shape, 'bernoulli', **dict(TINY, seed=4))
        self.assertNotAllClose(restored.log_prob(images, support=support), expected)
        tf.train.Checkpoint(model=restored).restore(path).assert_consumed()
        self.assertAllClose(restored.log_prob(images, support=support), expected)

    def test_is_a_pixel_cnn_with_default_arguments(self):
        model = AttentionPixelCNN((4, 4, 1))
        self.assertIsInstance(model, PixelCNN)
        self.assertEqual(model.attention_layers, (2, 5, 8, 11))
        images = np.zeros([1, 4, 4, 1], np.uint8)
        log_prob = model.log_prob(images, support=np.zeros([1, 2, 4, 4, 1], np.uint8))
        self.assertAllClose(log_prob, [-16 * np.log(256.0)], rtol=1e-5)

    @parameterized.named_parameters(
        ('one_layer', dict(num_layers=1), 'num_layers must be an integer >= 2'),
        ('attend_at_layer_zero', dict(attention_layers=(0, 2)), 'attention_layers must be'),
        ('attend_past_the_end', dict(attention_layers=(3,)), 'attention_layers must be'),
        ('fewer_heads_than_channels', dict(num_heads=2), 'num_heads must be >= C=3'),
        ('unknown_output', dict(output='gaussian'), 'output must be one of'),
        ('pool_not_dividing', dict(support_pool=3), 'pooling window must be an integer >= 1'),
        ('nothing_to_condition_on', dict(attention_layers=()), 'not empty without a support map'),
        ('negative_map_width', dict(map_width=-1), 'map_width must be an integer >= 0'),
    )
    def test_bad_construction_raises_clear_value_error(self, overrides, message):
        options = dict(TINY, **overrides)
        with self.assertRaisesRegex(ValueError, message):
            AttentionPixelCNN((4, 4, 3), **options)

    def test_bad_inputs_raise_clear_value_errors(self):
        shape = (3, 3, 1)
        model = AttentionPixelCNN(shape, 'bernoulli', **TINY)
        images = np.zeros([2, *shape], np.int32)
        with self.assertRaisesRegex(ValueError, r'needs support=\[B, K, H, W, C\]'):
            model.log_prob(images)
        support_checks.assert_clear_support_errors(self, model, shape)


# A support map beside attention at one layer, and a support map alone.
MAP_VARIANTS = (
    ('map_and_attention', dict(map_width=4, map_layers=2, attention_layers=(2,))),
    ('map_only', dict(map_width=4, map_layers=2, attention_layers=())),
)


class SupportMapTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.named_parameters(*MAP_VARIANTS)
    def test_probabilities_sum_to_one_with_and_without_masked_slots(self, options):
        model = perturbed(AttentionPixelCNN((2, 2, 1), 'bernoulli', **dict(TINY, **options)))
        support = _support(1, 3, (2, 2, 1), 1)
        for mask in (None, np.array([[True, False, True]]), np.zeros([1, 3], bool)):
            total = total_probability(model, (2, 2, 1), support=support, support_mask=mask)
            self.assertAllClose(total, 1.0, atol=2e-5)

    @parameterized.named_parameters(*MAP_VARIANTS)
    def test_invariant_to_the_order_of_the_support_and_blind_to_padded_slots(self, options):
        shape = (3, 3, 3)
        model = perturbed(AttentionPixelCNN(shape, **dict(TINY, **options)))
        images = _support(2, 1, shape, 255, seed=1)[:, 0]
        support = _support(2, 4, shape, 255)
        mask = np.array([[True, True, False, True], [False, True, True, False]])
        expected = model.log_prob(images, support=support, support_mask=mask)
        order = [3, 0, 2, 1]
        permuted = model.log_prob(images, support=support[:, order], support_mask=mask[:, order])
        self.assertAllClose(permuted, expected, atol=1e-5)
        scrambled = support.copy()
        scrambled[~mask] = 255 - scrambled[~mask]
        self.assertAllEqual(model.log_prob(images, support=scrambled, support_mask=mask), expected)
        # A visible slot does matter.
        changed = support.copy()
        changed[0, 0] = 255 - changed[0, 0]
        changed_log_prob = model.log_prob(images, support=changed, support_mask=mask)
        self.assertGreater(abs(float(changed_log_prob[0] - expected[0])), 1e-4)

    def test_a_set_with_no_valid_slot_adds_nothing(self):
        shape = (3, 3, 1)
        options = dict(TINY, map_width=4, attention_layers=())
        model = perturbed(AttentionPixelCNN(shape, 'bernoulli', **options))
        images = _support(2, 1, shape, 1)[:, 0]
        support = _support(2, 2, shape, 1, seed=3)
        nothing = np.zeros([2, 2], bool)
        log_prob = model.log_prob(images, support=support, support_mask=nothing)
        # The map is zero, so every bias is: the gated network alone, with no conditioner.
        params = model.network(model.preprocess(images))
        expected = tf.reduce_sum(model._sub_pixel_log_prob(params, images), axis=[1, 2, 3])
        self.assertAllClose(log_prob, expected, atol=1e-5)

    @parameterized.named_parameters(*MAP_VARIANTS)
    def test_sampler_matches_the_parallel_pass_under_teacher_forcing(self, options):
        model = perturbed(AttentionPixelCNN((3, 3, 3), **dict(TINY, **options)))
        _assert_sampler_matches_the_parallel_pass(self, model)

    @parameterized.named_parameters(*MAP_VARIANTS)
    def test_gradients_reach_every_trainable_variable(self, options):
        shape = (3, 3, 3)
        model = perturbed(AttentionPixelCNN(shape, 'categorical', **dict(TINY, **options)))
        images = _support(2, 1, shape, 255)[:, 0]
        support = _support(2, 2, shape, 255, seed=1)
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(model.log_prob(images, support=support))
        variables = model.trainable_variables
        self.assertTrue(any('support_map' in v.name for v in variables))
        self.assertEqual(
            any('support_encoder' in v.name for v in variables), bool(options['attention_layers'])
        )
        for variable, gradient in zip(variables, tape.gradient(loss, variables)):
            self.assertIsNotNone(gradient, variable.name)
            self.assertGreater(float(tf.reduce_max(tf.abs(gradient))), 0.0, variable.name)

    def test_a_map_alone_learns_to_use_the_support(self):
        """As test_learns_to_use_the_support, with the support map and no attention at all."""
        shape = (4, 4, 1)
        options = dict(TINY, hidden_width=16, head_width=16, map_width=8, attention_layers=())
        model = AttentionPixelCNN(shape, 'bernoulli', **options)
        _assert_learns_to_use_the_support(self, model, shape)


if __name__ == '__main__':
    tf.test.main()
