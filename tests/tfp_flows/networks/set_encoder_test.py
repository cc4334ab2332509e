"""SetEncoder: per-level context shapes, permutation invariance, masking, dynamic sizes, errors."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from tfp_flows.networks.set_encoder import SetEncoder

SHAPE = (8, 8, 1)
VARIANTS = (
    ('attention_spatial', dict(pooling='attention', context='spatial')),
    ('attention_vector', dict(pooling='attention', context='vector')),
    ('mean_spatial', dict(pooling='mean', context='spatial')),
    ('mean_vector', dict(pooling='mean', context='vector')),
    ('attention_spatial_map', dict(pooling='attention', context='spatial', map_width=4)),
)


def _encoder(**kwargs):
    options = dict(num_levels=2, context_channels=3, hidden_width=8, num_heads=2, seed=0)
    options.update(kwargs)
    return SetEncoder(SHAPE, **options)


def _support(batch=2, size=4, seed=0):
    rng = np.random.default_rng(seed)
    return tf.constant(rng.uniform(-0.5, 0.5, size=(batch, size, *SHAPE)), tf.float32)


def _flat(contexts):
    return tf.concat([tf.reshape(c, [tf.shape(c)[0], -1]) for c in contexts], axis=1)


class SetEncoderTest(tf.test.TestCase, parameterized.TestCase):
    def test_one_context_per_level_at_the_coupling_resolution(self):
        spatial = _encoder(context='spatial')
        self.assertEqual(spatial.context_shapes, ((4, 4, 3), (2, 2, 3)))
        self.assertEqual([c.shape for c in spatial(_support())], [(2, 4, 4, 3), (2, 2, 2, 3)])
        vector = _encoder(context='vector')
        self.assertEqual([c.shape for c in vector(_support())], [(2, 3), (2, 3)])

    @parameterized.named_parameters(*VARIANTS)
    def test_contexts_are_invariant_to_the_order_of_the_set(self, options):
        encoder = _encoder(**options)
        support = _support(size=5)
        mask = tf.constant([[True] * 5, [True, False, True, True, False]])
        order = [3, 0, 4, 1, 2]
        expected = _flat(encoder(support, mask))
        shuffled = _flat(encoder(tf.gather(support, order, axis=1), tf.gather(mask, order, axis=1)))
        self.assertAllClose(expected, shuffled, atol=1e-5, rtol=1e-5)
        # ...and they do depend on the set's content.
        self.assertNotAllClose(expected, _flat(encoder(_support(size=5, seed=1), mask)))

    @parameterized.named_parameters(*VARIANTS)
    def test_padded_slots_have_exactly_no_effect(self, options):
        encoder = _encoder(**options)
        support = _support(size=4).numpy()
        mask = np.array([[True, True, False, False], [False, True, False, True]])
        expected = _flat(encoder(support, mask))
        garbage = support.copy()
        garbage[~mask] = np.nan
        garbage[0, 2] = 1e30
        self.assertAllEqual(expected, _flat(encoder(garbage, mask)))
        # The same as the sets without the padding (up to summation order).
        compact = np.stack([support[0, [0, 1]], support[1, [1, 3]]])
        self.assertAllClose(expected, _flat(encoder(compact)), atol=1e-5, rtol=1e-5)
        # NaN in padding reaches no gradient either.
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(_flat(encoder(garbage, mask)))
        for gradient in tape.gradient(loss, encoder.trainable_variables):
            self.assertTrue(bool(tf.reduce_all(tf.math.is_finite(gradient))))

    @parameterized.named_parameters(*VARIANTS)
    def test_all_masked_set_is_the_empty_set(self, options):
        encoder = _encoder(**options)
        mask = tf.zeros([2, 3], tf.bool)
        contexts = _flat(encoder(_support(size=3), mask))
        self.assertAllEqual(tf.math.is_finite(contexts), tf.ones_like(contexts, tf.bool))
        self.assertAllEqual(contexts, _flat(encoder(_support(size=3, seed=5), mask)))
        self.assertAllClose(contexts, _flat(encoder.empty_context(2)))

    def test_dynamic_batch_and_set_size_inside_tf_function(self):
        encoder = _encoder()
        encode = tf.function(
            encoder.__call__,
            input_signature=[
                tf.TensorSpec([None, None, *SHAPE], tf.float32),
                tf.TensorSpec([None, None], tf.bool),
            ],
        )
        for batch, size in ((2, 3), (3, 1), (1, 6)):
            support = _support(batch, size)
            mask = tf.ones([batch, size], tf.bool)
            graph = encode(support, mask)
            # Channels and resolutions stay static for the Glow layers that read the contexts.
            self.assertEqual([c.shape[1:] for c in graph], [(4, 4, 3), (2, 2, 3)])
            self.assertAllClose(_flat(graph), _flat(encoder(support, mask)), atol=1e-5)

    def test_gradients_reach_every_variable(self):
        for options in (dict(context='spatial', map_width=2), dict(context='vector')):
            encoder = _encoder(**options)
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.square(_flat(encoder(_support()))))
            gradients = tape.gradient(loss, encoder.trainable_variables)
            self.assertNotEmpty(encoder.trainable_variables)
            for variable, gradient in zip(encoder.trainable_variables, gradients):
                self.assertIsNotNone(gradient, variable.name)

    def test_support_map_adds_to_the_finest_level_only(self):
        support = _support()
        plain, mapped = _encoder()(support), _encoder(map_width=4)(support)
        # Drawn after every other weight: the rest of the encoder is unchanged.
        self.assertAllEqual(plain[1], mapped[1])
        self.assertNotAllClose(plain[0], mapped[0])
        self.assertEqual(mapped[0].shape, plain[0].shape)
        # Location-dependent: ink at one corner of the support images moves the map's term at
        # that corner, and (beyond the 7-pixel receptive field) not at the opposite one.
        plain_encoder, map_encoder = _encoder(), _encoder(map_width=4)

        def map_term(support):
            return map_encoder(support)[0] - plain_encoder(support)[0]

        blank = tf.fill([1, 2, *SHAPE], -0.5)
        inked = tf.tensor_scatter_nd_update(blank, [[0, 0, 0, 0, 0], [0, 1, 0, 0, 0]], [0.5, 0.5])
        change = tf.reduce_sum(tf.abs(map_term(inked) - map_term(blank)), axis=-1)[0]
        self.assertGreater(float(change[0, 0]), 1e-3)
        self.assertAllClose(change[-1, -1], 0.0, atol=1e-5)

    def test_same_seed_same_weights(self):
        support = _support()
        self.assertAllEqual(_flat(_encoder(seed=4)(support)), _flat(_encoder(seed=4)(support)))
        self.assertNotAllClose(_flat(_encoder(seed=4)(support)), _flat(_encoder(seed=5)(support)))

    def test_bad_inputs_raise_clear_value_errors(self):
        encoder = _encoder()
        support = _support()
        with self.assertRaisesRegex(ValueError, r'\[B, K, H, W, C\]'):
            encoder(support[:, 0])
        with self.assertRaisesRegex(ValueError, r'support images must have shape \(8, 8, 1\)'):
            encoder(tf.zeros([2, 3, 16, 16, 1]))
        with self.assertRaisesRegex(ValueError, 'support_mask must have shape'):
            encoder(support, tf.ones([2, 3], tf.bool))
        with self.assertRaisesRegex(ValueError, 'support_mask must have shape'):
            encoder(support, tf.ones([2], tf.bool))
        with self.assertRaisesRegex(ValueError, 'bool'):
            encoder(support, tf.ones([2, 4], tf.int32))
        with self.assertRaisesRegex(ValueError, 'float tensor'):
            encoder(tf.zeros([2, 3, *SHAPE], tf.uint8))
        with self.assertRaisesRegex(ValueError, 'K = 0'):
            encoder(tf.zeros([2, 0, *SHAPE]))

    @parameterized.named_parameters(
        ('pooling', dict(pooling='max'), 'pooling must be one of'),
        ('context', dict(context='maps'), 'context must be one of'),
        ('heads', dict(hidden_width=6, num_heads=4), 'divisible by num_heads'),
        ('levels', dict(num_levels=4), 'divisible by 2\\*\\*num_levels'),
        ('channels', dict(context_channels=0), 'context_channels must be an integer >= 1'),
        ('map_width', dict(map_width=-1), 'map_width must be an integer >= 0'),
        ('map_vector', dict(context='vector', map_width=4), "needs context='spatial'"),
    )
    def test_bad_construction_raises_clear_value_error(self, overrides, message):
        with self.assertRaisesRegex(ValueError, message):
            _encoder(**overrides)


if __name__ == '__main__':
    tf.test.main()
