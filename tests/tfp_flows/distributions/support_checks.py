"""Error checks every support-conditioned PixelCNN shares (`PixelCNN._check_support`)."""

import numpy as np


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
