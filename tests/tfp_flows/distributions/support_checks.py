"""Checks every support-conditioned PixelCNN shares: bad-input errors (`PixelCNN._check_support`)
and dynamic batch and support sizes inside a `tf.function`."""

import numpy as np
import tensorflow as tf


def assert_clear_support_errors(test, model, shape):
    """Each bad support or mask given to `model.log_prob` raises a ValueError naming the problem.

    `model` is a 'bernoulli', not class-conditional model of images `shape` (3, 3, 1).
    """
    images = np.zeros([2, *shape], np.int32)
    support = np.zeros([2, 3, *shape], np.int32)
    cases = [
        (r'support must have shape \[B, K, H, W, C\]', dict(support=support[:, 0])),
        (
            r'built for images of shape \(3, 3, 1\)',
            dict(support=np.zeros([2, 3, 4, 4, 1], np.int32)),
        ),
        (r'support must hold values in \{0, ..., 1\}', dict(support=support + 2)),
        ('support must be an integer tensor', dict(support=support.astype(np.float32))),
        (
            r'support_mask must have shape \[B, K\]',
            dict(support=support, support_mask=np.ones([2, 2], bool)),
        ),
        (
            'support_mask must be a bool',
            dict(support=support, support_mask=np.ones([2, 3], np.float32)),
        ),
        ('K >= 1 slots', dict(support=support[:, :0])),
        ('support_mask without a support', dict(support_mask=np.ones([2, 3], bool))),
        ('conditioning has batch shape', dict(support=np.zeros([3, 3, *shape], np.int32))),
        ('not class-conditional', dict(support=support, label=[0, 1])),
    ]
    for message, kwargs in cases:
        with test.assertRaisesRegex(ValueError, message):
            model.log_prob(images, **kwargs)


def assert_dynamic_batch_and_support_size(test, model, shape):
    """`log_prob` and `sample` of a 'bernoulli' support model, traced once with unknown B and K,
    match eager calls for several (B, K), with some slots masked."""
    log_prob = tf.function(
        lambda x, s, m: model.log_prob(x, support=s, support_mask=m),
        input_signature=[
            tf.TensorSpec([None, *shape], tf.int32),
            tf.TensorSpec([None, None, *shape], tf.int32),
            tf.TensorSpec([None, None], tf.bool),
        ],
    )
    sample = tf.function(
        lambda n, s, seed: model.sample(n, support=s, seed=seed),
        input_signature=[
            tf.TensorSpec([], tf.int32),
            tf.TensorSpec([None, None, *shape], tf.int32),
            tf.TensorSpec([2], tf.int32),
        ],
    )
    rng = np.random.default_rng(0)
    for batch, size in ((1, 1), (3, 4), (2, 2)):
        images = rng.integers(0, 2, (batch, *shape)).astype(np.int32)
        support = rng.integers(0, 2, (batch, size, *shape)).astype(np.int32)
        mask = np.arange(size)[None, :] <= np.arange(batch)[:, None]
        test.assertAllClose(
            log_prob(images, support, mask),
            model.log_prob(images, support=support, support_mask=mask),
            atol=1e-5,
        )
        samples = sample(2, support, tf.constant([1, 2]))
        test.assertEqual(samples.shape, (2, batch, *shape))
        test.assertAllEqual(samples, model.sample(2, support=support, seed=[1, 2]))
    test.assertEqual(log_prob.experimental_get_tracing_count(), 1)
