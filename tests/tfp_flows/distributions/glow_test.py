"""The whole Glow: invertibility, exact log-density, sampling, shapes, checkpoints, errors."""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from absl.testing import parameterized

import tfp_flows
from tfp_flows import testing
from tfp_flows.bijectors.half_affine import HalfAffine

tfd = tfp.distributions

SHAPE = (16, 16, 3)


def _images(batch=4, shape=SHAPE, seed=0, dtype=tf.float32):
    rng = np.random.default_rng(seed)
    return tf.constant(rng.uniform(-0.5, 0.5, size=(batch, *shape)), dtype)


def _glow(dtype=tf.float32, shape=SHAPE, **kwargs):
    options = dict(num_levels=2, steps_per_level=2, hidden_width=8, seed=0, dtype=dtype)
    options.update(kwargs)
    glow = tfp_flows.Glow(image_shape=shape, **options)
    glow.initialize(_images(8, shape, seed=1, dtype=dtype), **_conditioning(glow, 8))
    # Leave the zero-initialised state so couplings, split priors and the top prior are non-trivial.
    testing.perturb_variables(glow, 0.05, seed=2)
    return glow


VARIANTS = (
    ('invconv_affine', dict(permutation='invconv', coupling='affine')),
    ('lu_invconv_affine', dict(permutation='lu_invconv', coupling='affine', learn_top=True)),
    ('shuffle_additive', dict(permutation='shuffle', coupling='additive')),
    ('reverse_affine_one_level', dict(permutation='reverse', num_levels=1)),
    ('class_conditional', dict(num_classes=3, learn_top=True)),
    ('context_conditional', dict(context_channels=2, learn_top=True)),
)
# Coupling networks in bfloat16. Not in the autodiff-Jacobian test: backprop through the networks
# rounds in bfloat16 too, differently for each Jacobian row, so the autodiff determinant of the
# whole flow is off by ~1e-5 relative while the analytic one stays exact (the per-layer test in
# layers_test.py checks it at 1e-6, where each Jacobian is triangular).
MIXED_PRECISION = (('bfloat16_networks', dict(network_dtype='bfloat16')),)


def _conditioning(glow, batch, seed=3):
    rng = np.random.default_rng(seed)
    kwargs = {}
    if glow.num_classes:
        kwargs['label'] = tf.constant(rng.integers(0, glow.num_classes, size=batch), tf.int32)
    if glow.bijector._context_channels:
        kwargs['context'] = tf.constant(rng.normal(size=(batch, 2)), glow.dtype)
    return kwargs


class GlowTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.named_parameters(*VARIANTS, *MIXED_PRECISION)
    def test_round_trips_within_1e5(self, options):
        glow = _glow(**options)
        x = _images()
        kwargs = _conditioning(glow, 4)
        testing.assert_bijective_and_finite(self, glow.bijector, glow.encode(x, **kwargs), **kwargs)
        latents = [tf.identity(z) for z in glow.encode(x, **kwargs)]
        self.assertAllClose(x, glow.decode(latents, **kwargs), atol=1e-5)

    @parameterized.named_parameters(*VARIANTS)
    def test_log_det_matches_autodiff_jacobian(self, options):
        shape = (8, 8, 2) if options.get('num_levels', 2) == 2 else (4, 4, 2)
        glow = _glow(tf.float64, shape, **options)
        x = _images(2, shape, dtype=tf.float64)
        kwargs = _conditioning(glow, 2)
        analytic = glow.bijector.inverse_and_log_det(x, **kwargs)[1]
        numeric = testing.autodiff_log_det(
            lambda t: glow.bijector.inverse_and_log_det(t, **kwargs)[0], x
        )
        self.assertAllClose(analytic, numeric, atol=1e-6, rtol=1e-6)

    @parameterized.named_parameters(*VARIANTS, *MIXED_PRECISION)
    def test_log_prob_is_base_log_prob_plus_summed_layer_log_dets(self, options):
        glow = _glow(**options)
        x = _images()
        kwargs = _conditioning(glow, 4)
        condition = kwargs.get('context')
        # Walk the layers by hand, summing each layer's own log-det.
        flow = glow.bijector
        z, total = flow.squeeze.forward_and_log_det(x)
        latents = []
        for level, steps in enumerate(flow.levels):
            for layer in steps:
                extra = {'conditional_input': condition} if isinstance(layer, HalfAffine) else {}
                z, log_det = layer.forward_and_log_det(z, **extra)
                total += log_det
            if level < len(flow.levels) - 1:
                z, log_det = flow.splits[level].forward_and_log_det(z, conditional_input=condition)
                total += log_det
                half = z.shape[-1] // 2
                latents.append(z[..., half:])
                z = flow.squeeze.forward(z[..., :half])
        eps, log_det = flow.top_prior.forward_and_log_det(
            z, label=kwargs.get('label'), conditional_input=condition
        )
        latents.append(eps)
        total += log_det
        normal = tfd.Normal(0.0, 1.0)
        base = sum(tf.reduce_sum(normal.log_prob(e), axis=[1, 2, 3]) for e in latents)
        self.assertAllClose(glow.log_prob(x, **kwargs), base + total, rtol=1e-5, atol=1e-3)
        for mine, theirs in zip(glow.encode(x, **kwargs), latents):
            self.assertAllClose(mine, theirs, atol=1e-5)

    def test_gradients_reach_every_trainable_variable(self):
        glow = _glow(num_classes=3, learn_top=True)
        x = _images()
        label = tf.constant([0, 1, 2, 0])
        with tf.GradientTape() as tape:
            log_prob, logits = glow.log_prob_and_class_logits(x, label=label)
            loss = -tf.reduce_mean(log_prob) + tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(label, logits)
            )
        gradients = tape.gradient(loss, glow.trainable_variables)
        self.assertNotEmpty(glow.trainable_variables)
        for variable, gradient in zip(glow.trainable_variables, gradients):
            self.assertIsNotNone(gradient, variable.name)
            self.assertTrue(bool(tf.reduce_all(tf.math.is_finite(gradient))), variable.name)

    def test_log_prob_and_class_logits_agrees_with_log_prob(self):
        glow = _glow(num_classes=3)
        x = _images()
        label = tf.constant([2, 1, 0, 1])
        log_prob, logits = glow.log_prob_and_class_logits(x, label=label)
        self.assertAllClose(log_prob, glow.log_prob(x, label=label), atol=1e-4)
        self.assertEqual(logits.shape, (4, 3))

    def test_dynamic_batch_inside_tf_function(self):
        glow = _glow(num_classes=3)
        spec = tf.TensorSpec([None, *SHAPE], tf.float32)
        label_spec = tf.TensorSpec([None], tf.int32)
        latent_specs = [tf.TensorSpec([None, *s], tf.float32) for s in glow.latent_shapes]
        log_prob = tf.function(
            lambda x, y: glow.log_prob(x, label=y), input_signature=[spec, label_spec]
        )
        encode = tf.function(
            lambda x, y: glow.encode(x, label=y), input_signature=[spec, label_spec]
        )
        decode = tf.function(
            lambda z, y: glow.decode(z, label=y), input_signature=[latent_specs, label_spec]
        )
        sample = tf.function(
            lambda n, t, y: glow.sample(n, temperature=t, label=y, seed=[1, 2]),
            input_signature=[
                tf.TensorSpec([], tf.int32),
                tf.TensorSpec([], tf.float32),
                label_spec,
            ],
        )
        for batch in (1, 5):
            x = _images(batch)
            label = tf.zeros([batch], tf.int32)
            self.assertAllClose(log_prob(x, label), glow.log_prob(x, label=label), atol=1e-4)
            latents = encode(x, label)
            self.assertEqual([tuple(z.shape[1:]) for z in latents], list(glow.latent_shapes))
            self.assertAllClose(decode(latents, label), x, atol=1e-5)
            self.assertEqual(sample(batch, 0.7, label).shape, (batch, *SHAPE))

    def test_sample_at_temperature_zero_decodes_the_prior_means(self):
        glow = _glow(learn_top=True)
        zeros = [tf.zeros([3, *shape]) for shape in glow.latent_shapes]
        expected = glow.decode(zeros)
        self.assertAllClose(glow.sample(3, temperature=0.0, seed=[4, 5]), expected, atol=1e-6)
        # The learned top prior and split priors make the means non-trivial.
        self.assertGreater(float(tf.reduce_max(tf.abs(expected))), 1e-3)

    def test_temperature_scales_every_level_noise(self):
        glow = _glow()
        seed = [7, 8]
        hot = glow.sample(2, temperature=1.0, seed=seed)
        cool = glow.sample(2, temperature=0.5, seed=seed)
        latents_hot = glow.encode(tf.identity(hot))
        latents_cool = glow.encode(tf.identity(cool))
        for a, b in zip(latents_hot, latents_cool):
            self.assertAllClose(0.5 * a, b, atol=1e-4)

    def test_sample_shape_follows_tfp_conventions(self):
        glow = _glow()
        self.assertEqual(glow.sample(seed=[1, 1]).shape, SHAPE)
        self.assertEqual(glow.sample([2, 3], seed=[1, 1]).shape, (2, 3, *SHAPE))
        self.assertEqual(glow.event_shape, SHAPE)

    def test_each_coupling_network_runs_once_per_log_prob(self):
        glow = _glow()
        calls = []
        networks = [
            layer.network
            for steps in glow.bijector.levels
            for layer in steps
            if hasattr(layer, 'network')
        ]
        for network in networks:
            original = network._run

            def counted(x, initialize, original=original, network=network):
                calls.append(network)
                return original(x, initialize)

            network._run = counted
        glow.log_prob(_images())
        self.assertLen(calls, len(networks))
        self.assertLen(set(map(id, calls)), len(networks))

    def test_initialize_standardises_first_act_norm_output(self):
        glow = tfp_flows.Glow(SHAPE, 2, 2, 8, seed=0)
        self.assertFalse(bool(glow.is_initialized))
        x = _images(16) * 0.3 + 0.1
        glow.initialize(x)
        self.assertTrue(bool(glow.is_initialized))
        squeezed = glow.bijector.squeeze.forward(x)
        normalised = glow.bijector.levels[0][0].forward(squeezed)
        self.assertAllClose(tf.reduce_mean(normalised, [0, 1, 2]), tf.zeros([12]), atol=1e-5)
        self.assertAllClose(tf.math.reduce_std(normalised, [0, 1, 2]), tf.ones([12]), atol=1e-4)

    def test_shuffled_model_restored_from_checkpoint_gives_same_log_prob(self):
        original = _glow(permutation='shuffle')
        x = _images()
        expected = original.log_prob(x)
        path = tf.train.Checkpoint(model=original).save(self.get_temp_dir() + '/ckpt')
        restored = tfp_flows.Glow(SHAPE, 2, 2, 8, permutation='shuffle', seed=123)
        self.assertFalse(bool(restored.is_initialized))
        tf.train.Checkpoint(model=restored).restore(path).assert_consumed()
        self.assertTrue(bool(restored.is_initialized))
        self.assertAllClose(restored.log_prob(x), expected, atol=1e-5)

    def test_float32_checkpoint_restores_into_bfloat16_networks(self):
        original = _glow()
        x = _images()
        expected = original.log_prob(x)
        path = tf.train.Checkpoint(model=original).save(self.get_temp_dir() + '/ckpt')
        mixed = tfp_flows.Glow(SHAPE, 2, 2, 8, seed=123, network_dtype='bfloat16')
        tf.train.Checkpoint(model=mixed).restore(path).assert_consumed()
        # Same weights, networks rounded to bfloat16: log p(x) moves by well under 1%.
        self.assertAllClose(mixed.log_prob(x), expected, rtol=5e-3, atol=0.0)
        self.assertNotAllClose(mixed.log_prob(x), expected, rtol=1e-7, atol=0.0)
        self.assertEqual(mixed.log_prob(x).dtype, tf.float32)

    def test_is_what_tfp_builds_for_this_flow_and_visible_inside_modules(self):
        glow = _glow()
        built_by_tfp = tfd.TransformedDistribution(glow.distribution, glow.bijector)
        self.assertIsInstance(glow, type(built_by_tfp))
        self.assertIsInstance(glow, tfd.Distribution)

        class Wrapper(tf.Module):
            def __init__(self, model):
                super().__init__()
                self.model = model

        wrapper = Wrapper(glow)
        self.assertLen(wrapper.trainable_variables, len(glow.trainable_variables))
        self.assertGreater(len(glow.trainable_variables), 10)

    def test_same_seed_same_model(self):
        x = _images()
        a = tfp_flows.Glow(SHAPE, 2, 2, 8, permutation='shuffle', seed=5)
        b = tfp_flows.Glow(SHAPE, 2, 2, 8, permutation='shuffle', seed=5)
        c = tfp_flows.Glow(SHAPE, 2, 2, 8, permutation='shuffle', seed=6)
        self.assertAllClose(a.log_prob(x), b.log_prob(x))
        self.assertNotAllClose(a.encode(x)[0], c.encode(x)[0])

    @parameterized.named_parameters(
        ('unknown_permutation', dict(permutation='1x1'), 'permutation must be one of'),
        ('unknown_coupling', dict(coupling='affin'), 'coupling must be one of'),
        ('zero_levels', dict(num_levels=0), 'num_levels must be an integer >= 1'),
        ('zero_steps', dict(steps_per_level=0), 'steps_per_level must be an integer >= 1'),
        (
            'not_divisible',
            dict(image_shape=(28, 28, 1), num_levels=3),
            'divisible by 2\\*\\*num_levels',
        ),
        ('bad_shape', dict(image_shape=(16, 16)), r'image_shape must be \(H, W, C\)'),
        ('integer_network_dtype', dict(network_dtype='int32'), 'network_dtype must be a floating'),
    )
    def test_bad_construction_raises_clear_value_error(self, overrides, message):
        options = dict(image_shape=SHAPE, num_levels=2, steps_per_level=2, hidden_width=8)
        options.update(overrides)
        with self.assertRaisesRegex(ValueError, message):
            tfp_flows.Glow(**options)

    def test_bad_inputs_raise_clear_value_errors(self):
        glow = _glow(num_classes=3)
        label = tf.constant([0, 1, 2, 0])
        with self.assertRaisesRegex(ValueError, r'\[B, H, W, C\]'):
            glow.log_prob(_images()[0], label=label[:1])
        with self.assertRaisesRegex(ValueError, 'built for images'):
            glow.log_prob(_images(shape=(8, 8, 3)), label=label)
        with self.assertRaisesRegex(ValueError, 'pass label'):
            glow.log_prob(_images())
        with self.assertRaisesRegex(ValueError, 'integer tensor'):
            glow.log_prob(_images(), label=tf.zeros([4]))
        unconditional = _glow()
        with self.assertRaisesRegex(ValueError, 'not class-conditional'):
            unconditional.log_prob(_images(), label=label)
        with self.assertRaisesRegex(ValueError, 'expected 2 latents'):
            unconditional.decode([tf.zeros([1, 8, 8, 6])])

    def test_validate_args_checks_label_range(self):
        glow = tfp_flows.Glow(SHAPE, 1, 1, 8, num_classes=3, validate_args=True, seed=0)
        with self.assertRaisesOpError('label must be < num_classes=3'):
            glow.log_prob(_images(1), label=tf.constant([3]))


if __name__ == '__main__':
    tf.test.main()
