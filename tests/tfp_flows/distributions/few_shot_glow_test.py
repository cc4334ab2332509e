"""FewShotGlow: exactness for a fixed support, set semantics, batch semantics, reduction to Glow."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

import tfp_flows
from tfp_flows import testing
from tfp_flows.distributions.few_shot_glow import FewShotGlow

SHAPE = (8, 8, 1)
OPTIONS = dict(
    num_levels=2,
    steps_per_level=1,
    hidden_width=8,
    context_channels=4,
    encoder_width=8,
    num_heads=2,
    seed=0,
)


def _images(batch=3, seed=0, dtype=tf.float32, shape=SHAPE):
    rng = np.random.default_rng(seed)
    return tf.constant(rng.uniform(-0.5, 0.5, size=(batch, *shape)), dtype)


def _support(batch=3, size=4, seed=1, dtype=tf.float32):
    rng = np.random.default_rng(seed)
    return tf.constant(rng.uniform(-0.5, 0.5, size=(batch, size, *SHAPE)), dtype)


def _model(dtype=tf.float32, **kwargs):
    options = dict(OPTIONS, dtype=dtype)
    options.update(kwargs)
    model = FewShotGlow(SHAPE, **options)
    support = None if options.get('context') == 'none' else _support(6, 3, seed=7, dtype=dtype)
    model.initialize(_images(6, seed=8, dtype=dtype), support=support)
    # Leave the zero-initialised state, so that every layer reading the contexts uses them.
    testing.perturb_variables(model, 0.05, seed=2)
    return model


class FewShotGlowTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.named_parameters(
        ('spatial_attention', dict(context='spatial', pooling='attention')),
        ('vector_mean', dict(context='vector', pooling='mean')),
        ('spatial_support_map', dict(context='spatial', support_map_width=2)),
    )
    def test_log_prob_is_invariant_to_shuffling_the_support(self, options):
        model = _model(**options)
        x, support = _images(), _support(size=5)
        mask = tf.constant(
            [[True] * 5, [True, True, False, True, False], [False, True] * 2 + [True]]
        )
        order = [2, 4, 0, 3, 1]
        expected = model.log_prob(x, support=support, support_mask=mask)
        shuffled = model.log_prob(
            x,
            support=tf.gather(support, order, axis=1),
            support_mask=tf.gather(mask, order, axis=1),
        )
        self.assertAllClose(expected, shuffled, atol=1e-4, rtol=1e-6)
        # The support matters: another set gives another density.
        self.assertNotAllClose(expected, model.log_prob(x, support=_support(size=5, seed=9)))

    def test_padded_support_slots_have_no_effect(self):
        model = _model()
        x, support = _images(), _support(size=4).numpy()
        mask = np.array([[True, False, True, False], [True] * 4, [False, False, False, True]])
        expected = model.log_prob(x, support=support, support_mask=mask)
        padding = support.copy()
        padding[~mask] = np.random.default_rng(3).uniform(-0.5, 0.5, size=padding[~mask].shape)
        self.assertAllEqual(expected, model.log_prob(x, support=padding, support_mask=mask))
        # Equal (to float tolerance) to the unpadded sets, scored one by one.
        for b in range(3):
            alone = model.log_prob(x[b : b + 1], support=support[b : b + 1, mask[b]])
            self.assertAllClose(expected[b : b + 1], alone, atol=1e-4, rtol=1e-6)

    def test_round_trips_within_1e5_for_a_fixed_support(self):
        model = _model()
        x, support = _images(), _support()
        contexts = model.contexts(support)
        latents = model.encode(x, support=support)
        testing.assert_bijective_and_finite(self, model.glow.bijector, latents, context=contexts)
        self.assertAllClose(x, model.decode([tf.identity(z) for z in latents], support=support))

    @parameterized.named_parameters(('spatial', 'spatial'), ('vector', 'vector'))
    def test_log_det_matches_autodiff_jacobian_for_a_fixed_support(self, context):
        model = _model(tf.float64, context=context)
        x = _images(2, dtype=tf.float64)
        contexts = model.contexts(_support(2, 3, dtype=tf.float64))
        flow = model.glow.bijector
        analytic = flow.inverse_and_log_det(x, context=contexts)[1]
        numeric = testing.autodiff_log_det(
            lambda t: flow.inverse_and_log_det(t, context=contexts)[0], x
        )
        self.assertAllClose(analytic, numeric, atol=1e-6, rtol=1e-6)
        latents = flow.inverse(x, context=contexts)
        self.assertAllClose(
            flow.forward_and_log_det(latents, context=contexts)[1], -analytic, atol=1e-6
        )

    def test_log_prob_is_base_density_plus_log_det(self):
        model = _model()
        x, support = _images(), _support()
        latents, log_det = model.glow.bijector.inverse_and_log_det(
            x, context=model.contexts(support)
        )
        base = sum(
            tf.reduce_sum(-0.5 * tf.square(z) - 0.5 * np.log(2 * np.pi), axis=[1, 2, 3])
            for z in latents
        )
        self.assertAllClose(model.log_prob(x, support=support), base + log_det, atol=1e-4)

    def test_dynamic_batch_and_set_size_inside_tf_function(self):
        model = _model()
        image_spec = tf.TensorSpec([None, *SHAPE], tf.float32)
        support_spec = tf.TensorSpec([None, None, *SHAPE], tf.float32)
        mask_spec = tf.TensorSpec([None, None], tf.bool)
        log_prob = tf.function(
            lambda x, s, m: model.log_prob(x, support=s, support_mask=m),
            input_signature=[image_spec, support_spec, mask_spec],
        )
        sample = tf.function(
            lambda n, s, t: model.sample(n, support=s, temperature=t, seed=[1, 2]),
            input_signature=[tf.TensorSpec([], tf.int32), support_spec, tf.TensorSpec([])],
        )
        latent_specs = [tf.TensorSpec([None, *s]) for s in model.latent_shapes]
        encode = tf.function(
            lambda x, s: model.encode(x, support=s), input_signature=[image_spec, support_spec]
        )
        decode = tf.function(
            lambda z, s: model.decode(z, support=s), input_signature=[latent_specs, support_spec]
        )
        for batch, size in ((3, 2), (1, 5), (2, 1)):
            x, support = _images(batch), _support(batch, size)
            mask = tf.ones([batch, size], tf.bool)
            self.assertAllClose(
                log_prob(x, support, mask), model.log_prob(x, support=support), atol=1e-4
            )
            self.assertAllClose(decode(encode(x, support), support), x, atol=1e-5)
            self.assertEqual(sample(2, support, 0.7).shape, (2, batch, *SHAPE))
        # A support batch of one, broadcast to every image, also with unknown batch sizes.
        self.assertAllClose(
            log_prob(_images(3), _support(1, 2), tf.ones([1, 2], tf.bool)),
            model.log_prob(_images(3), support=tf.tile(_support(1, 2), [3, 1, 1, 1, 1])),
            atol=1e-4,
        )
        with self.assertRaisesOpError('support batch must be 1 or equal the batch of images'):
            log_prob(_images(3), _support(2, 2), tf.ones([2, 2], tf.bool))

    def test_gradients_reach_every_trainable_variable(self):
        model = _model()
        x, support = _images(), _support()
        mask = tf.constant([[True, True, False, True]] * 3)
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(model.log_prob(x, support=support, support_mask=mask))
        variables = model.trainable_variables
        # Both parts are there, each variable once.
        self.assertLen(
            variables,
            len(model.glow.trainable_variables) + len(model.encoder.trainable_variables),
        )
        gradients = tape.gradient(loss, variables)
        for variable, gradient in zip(variables, gradients):
            self.assertIsNotNone(gradient, variable.name)
            self.assertTrue(bool(tf.reduce_all(tf.math.is_finite(gradient))), variable.name)
        # The encoder learns from the likelihood: its gradient is not identically zero.
        encoder_ids = {id(v) for v in model.encoder.trainable_variables}
        encoder_norm = sum(
            float(tf.reduce_sum(tf.abs(g)))
            for v, g in zip(variables, gradients)
            if id(v) in encoder_ids
        )
        self.assertGreater(encoder_norm, 0.0)

    def test_sample_draws_n_images_per_support_set(self):
        model = _model()
        support = _support(3, 2)
        samples = model.sample(4, support=support, temperature=0.0)
        self.assertEqual(samples.shape, (4, 3, *SHAPE))
        # At T = 0 every sample of set b is the decoded prior mean given set b alone.
        zeros = [tf.zeros([1, *s]) for s in model.latent_shapes]
        for b in range(3):
            mean = model.decode(zeros, support=support[b : b + 1])
            for s in range(4):
                self.assertAllClose(samples[s, b], mean[0], atol=1e-5)
        self.assertNotAllClose(samples[0, 0], samples[0, 1])
        drawn = model.sample(2, support=support, temperature=0.7, seed=[3, 4])
        self.assertAllEqual(tf.math.is_finite(drawn), tf.ones_like(drawn, tf.bool))
        self.assertAllClose(drawn, model.sample(2, support=support, temperature=0.7, seed=[3, 4]))
        self.assertEqual(model.sample(5, seed=1).shape, (5, *SHAPE))

    def test_no_support_is_the_empty_set(self):
        model = _model()
        x = _images()
        empty = model.log_prob(x, support=_support(size=2), support_mask=tf.zeros([3, 2], tf.bool))
        self.assertAllClose(model.log_prob(x), empty, atol=1e-5)
        self.assertNotAllClose(model.log_prob(x), model.log_prob(x, support=_support(size=2)))

    def test_context_none_is_exactly_the_unconditional_glow(self):
        model = _model(context='none')
        glow = tfp_flows.Glow(SHAPE, 2, 1, 8, seed=0)
        glow.initialize(_images(6, seed=8))
        testing.perturb_variables(glow, 0.05, seed=2)
        self.assertFalse(model.is_conditional)
        self.assertIsNone(model.encoder)
        x = _images()
        self.assertAllEqual(model.log_prob(x), glow.log_prob(x))
        self.assertAllEqual(model.sample(2, seed=[5, 6]), glow.sample(2, seed=[5, 6]))
        with self.assertRaisesRegex(ValueError, "context='none'"):
            model.log_prob(x, support=_support())

    def test_checkpoint_round_trip(self):
        model = _model()
        x, support = _images(), _support()
        expected = model.log_prob(x, support=support)
        path = tf.train.Checkpoint(model=model).save(self.get_temp_dir() + '/ckpt')
        restored = FewShotGlow(SHAPE, **dict(OPTIONS, seed=11))
        self.assertFalse(bool(restored.is_initialized))
        tf.train.Checkpoint(model=restored).restore(path).assert_consumed()
        self.assertTrue(bool(restored.is_initialized))
        self.assertAllClose(restored.log_prob(x, support=support), expected, atol=1e-5)

    def test_variational_dequantizer_is_an_extra_part_with_its_own_seed_stream(self):
        uniform = FewShotGlow(SHAPE, **OPTIONS)
        variational = FewShotGlow(SHAPE, dequantization='variational', **OPTIONS)
        self.assertIsNone(uniform.dequantizer)
        self.assertIsInstance(variational.dequantizer, tfp_flows.VariationalDequantizer)
        x, support = _images(), _support()
        for model in (uniform, variational):
            model.initialize(x, support=support)
        # Adding q draws no weights from the Glow's or the encoder's streams.
        self.assertAllEqual(
            uniform.log_prob(x, support=support), variational.log_prob(x, support=support)
        )
        self.assertLen(
            variational.trainable_variables,
            len(uniform.trainable_variables) + len(variational.dequantizer.trainable_variables),
        )
        testing.perturb_variables(variational.dequantizer, 0.05, seed=4)
        path = tf.train.Checkpoint(model=variational).save(self.get_temp_dir() + '/ckpt')
        restored = FewShotGlow(SHAPE, **dict(OPTIONS, seed=11, dequantization='variational'))
        tf.train.Checkpoint(model=restored).restore(path).assert_consumed()
        levels = tf.round(x + 0.5) - 0.5
        self.assertAllClose(
            restored.dequantizer.sample_and_log_prob(levels, seed=[1, 2]),
            variational.dequantizer.sample_and_log_prob(levels, seed=[1, 2]),
        )

    def test_bad_inputs_raise_clear_value_errors(self):
        model = _model()
        x, support = _images(), _support()
        with self.assertRaisesRegex(ValueError, r'\[B, K, H, W, C\]'):
            model.log_prob(x, support=support[:, 0])
        with self.assertRaisesRegex(ValueError, r'support images must have shape \(8, 8, 1\)'):
            model.log_prob(x, support=tf.zeros([3, 2, 4, 4, 1]))
        with self.assertRaisesRegex(ValueError, 'support_mask must have shape'):
            model.log_prob(x, support=support, support_mask=tf.ones([3, 2], tf.bool))
        with self.assertRaisesRegex(ValueError, 'must be 1 .* or equal the batch'):
            model.log_prob(x, support=support[:2])
        with self.assertRaisesRegex(ValueError, r'x must be a batch of images \[B, H, W, C\]'):
            model.log_prob(x[0], support=support)
        with self.assertRaisesRegex(ValueError, 'support_mask was given without'):
            model.log_prob(x, support_mask=tf.ones([3, 4], tf.bool))
        with self.assertRaisesRegex(ValueError, 'context must be one of'):
            FewShotGlow(SHAPE, 2, 1, 8, context='global')
        with self.assertRaisesRegex(ValueError, "support_map_width=4 needs context='spatial'"):
            FewShotGlow(SHAPE, 2, 1, 8, context='none', support_map_width=4)
        with self.assertRaisesRegex(ValueError, "dequantization must be one of .* got 'learned'"):
            FewShotGlow(SHAPE, 2, 1, 8, dequantization='learned')


if __name__ == '__main__':
    tf.test.main()
