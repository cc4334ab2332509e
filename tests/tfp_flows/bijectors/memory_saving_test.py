"""Glow's memory-saving backward passes give the plain path's log-density and gradients."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

import tfp_flows
from tfp_flows import testing
from tfp_flows.bijectors import memory_saving

SHAPE = (8, 8, 2)
BATCH = 3

VARIANTS = (
    ('invconv_affine', dict()),
    ('lu_invconv_additive', dict(permutation='lu_invconv', coupling='additive')),
    ('shuffle_affine_learn_top', dict(permutation='shuffle', learn_top=True)),
    ('context_conditional', dict(context_channels=2, learn_top=True)),
    ('class_conditional', dict(num_classes=3)),
)
MODES = ('recompute', 'invert')


def _glow(memory_saving, dtype, options):
    glow = tfp_flows.Glow(
        SHAPE, 2, 3, 8, seed=0, dtype=dtype, memory_saving=memory_saving, **options
    )
    x, kwargs = _inputs(glow, dtype, seed=1)
    glow.initialize(x, **kwargs)
    testing.perturb_variables(glow, 0.05, seed=2)
    return glow


def _inputs(glow, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = tf.constant(rng.uniform(-0.5, 0.5, size=(BATCH, *SHAPE)), dtype)
    kwargs = {}
    if glow.num_classes:
        kwargs['label'] = tf.constant(rng.integers(0, glow.num_classes, size=BATCH), tf.int32)
    if glow.bijector._context_channels:
        kwargs['context'] = tf.constant(rng.normal(size=(BATCH, 2)), dtype)
    return x, kwargs


def _loss_and_gradients(glow, x, kwargs):
    """A per-example-weighted loss, so that every example's gradient counts differently."""
    watched = [x] + ([kwargs['context']] if 'context' in kwargs else [])
    with tf.GradientTape() as tape:
        tape.watch(watched)
        log_prob = glow.log_prob(x, **kwargs)
        loss = -tf.reduce_sum(log_prob * tf.range(1.0, BATCH + 1.0, dtype=x.dtype))
    return log_prob, tape.gradient(loss, watched + list(glow.trainable_variables))


class MemorySavingTest(tf.test.TestCase, parameterized.TestCase):
    def _check_same_as_plain(self, mode, dtype, options, wrap, atol, rtol):
        plain, saving = _glow('none', dtype, options), _glow(mode, dtype, options)
        x, kwargs = _inputs(plain, dtype)
        expected_log_prob, expected = _loss_and_gradients(plain, x, kwargs)
        log_prob, gradients = wrap(lambda x, kwargs: _loss_and_gradients(saving, x, kwargs))(
            x, kwargs
        )
        self.assertAllClose(log_prob, expected_log_prob, atol=atol, rtol=rtol)
        self.assertLen(gradients, len(expected))
        names = ['x', 'context'][: len(gradients) - len(saving.trainable_variables)]
        names += [v.name for v in saving.trainable_variables]
        for name, mine, theirs in zip(names, gradients, expected):
            if theirs is None:  # The class head, which log_prob does not use.
                self.assertIsNone(mine, name)
                continue
            self.assertAllClose(mine, theirs, atol=atol, rtol=rtol, msg=name)

    @parameterized.product(mode=MODES, variant=VARIANTS)
    def test_same_gradients_float64_in_tf_function(self, mode, variant):
        self._check_same_as_plain(mode, tf.float64, variant[1], tf.function, 1e-9, 1e-9)

    @parameterized.product(mode=MODES, variant=VARIANTS[:2])
    def test_same_gradients_float32_eager(self, mode, variant):
        self._check_same_as_plain(mode, tf.float32, variant[1], lambda f: f, 1e-4, 1e-4)

    @parameterized.parameters(*MODES)
    def test_same_gradients_with_bfloat16_networks(self, mode):
        # Both eager: a graph fuses each network's conv, bias and ReLU (one bfloat16 rounding where
        # eager rounds after each op), which alone moves log_prob by ~1e-3 relative.
        options = dict(network_dtype='bfloat16')
        self._check_same_as_plain(mode, tf.float32, options, lambda f: f, 1e-4, 1e-4)

    @parameterized.parameters(*MODES)
    def test_same_gradients_under_xla(self, mode):
        compile_xla = lambda f: tf.function(f, jit_compile=True)  # noqa: E731
        self._check_same_as_plain(
            mode, tf.float64, dict(context_channels=2), compile_xla, 1e-9, 1e-9
        )

    @parameterized.parameters(*MODES)
    def test_dynamic_batch_training_step(self, mode):
        glow = _glow(mode, tf.float32, {})
        plain = _glow('none', tf.float32, {})
        spec = tf.TensorSpec([None, *SHAPE], tf.float32)

        @tf.function(input_signature=[spec])
        def step(x):
            return _loss_and_gradients(glow, x, {})

        for batch in (1, BATCH):
            x = _inputs(glow, tf.float32)[0][:batch]
            log_prob, gradients = step(x)
            expected_log_prob, expected = _loss_and_gradients(plain, x, {})
            self.assertAllClose(log_prob, expected_log_prob, atol=1e-4)
            for mine, theirs in zip(gradients, expected):
                self.assertAllClose(mine, theirs, atol=1e-4, rtol=1e-4)

    def test_sampling_and_encoding_are_unchanged(self):
        plain, saving = _glow('none', tf.float32, {}), _glow('invert', tf.float32, {})
        x, _ = _inputs(plain, tf.float32)
        for mine, theirs in zip(saving.encode(x), plain.encode(x)):
            self.assertAllEqual(mine, theirs)
        self.assertAllEqual(saving.sample(2, seed=[1, 2]), plain.sample(2, seed=[1, 2]))

    def test_unknown_mode_is_rejected(self):
        with self.assertRaisesRegex(ValueError, 'memory_saving must be one of'):
            tfp_flows.Glow(SHAPE, 2, 3, 8, memory_saving='checkpoint')
        with self.assertRaisesRegex(ValueError, "'none', 'recompute', 'invert'"):
            memory_saving.run_layers([], tf.zeros([1, 2, 2, 4]), memory_saving='all')


if __name__ == '__main__':
    tf.test.main()
