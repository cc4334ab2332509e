"""tfglow.serving.checks and tfglow.serving.client on a stand-in flow and a tiny signature."""

import numpy as np
import tensorflow as tf

from tfglow.serving import checks, client
from tfglow.trained import FlowImages


class _ScaleFlow(tf.Module):
    """A one-level flow `z = x * encode_scale`, `x = z / decode_scale`: inexact when the two
    scales differ, and overflowing when `decode_scale` is 0."""

    image_shape = (2, 2, 1)
    latent_shapes = ((2, 2, 1),)
    num_classes = 0
    dtype = tf.float32

    def __init__(self, encode_scale: float, decode_scale: float):
        super().__init__(name='scale_flow')
        self.encode_scale = encode_scale
        self.decode_scale = decode_scale

    def encode(self, x, label=None):
        return [x * self.encode_scale]

    def decode(self, latents, label=None):
        return latents[0] / self.decode_scale


_IMAGES = tf.constant(np.array([0, 64, 128, 255] * 2, np.uint8).reshape(2, 2, 2, 1))


class ChecksTest(tf.test.TestCase):
    def test_encode_reports_whether_the_round_trip_is_exact(self):
        exact = checks.encode_outputs(FlowImages(_ScaleFlow(2.0, 2.0), 8), _IMAGES)
        self.assertAllEqual(exact['exact'], [True, True])
        self.assertEqual(exact['latents'].shape.as_list(), [2, 4])
        # Decoding 10% off moves pixels to other levels: reported, not hidden.
        off = checks.encode_outputs(FlowImages(_ScaleFlow(2.0, 1.8), 8), _IMAGES)
        self.assertAllEqual(off['exact'], [False, False])
        # An overflow (x / 0: Inf and NaN) is not exact either, even where NaN would read 0.
        overflow = checks.encode_outputs(FlowImages(_ScaleFlow(2.0, 0.0), 8), _IMAGES)
        self.assertAllEqual(overflow['exact'], [False, False])

    def test_latents_get_their_static_size(self):
        encode = tf.function(
            lambda images: checks.encode_outputs(FlowImages(_ScaleFlow(1.0, 1.0), 8), images),
            input_signature=[tf.TensorSpec([None, 2, 2, 1], tf.uint8)],
        )
        outputs = encode.get_concrete_function().structured_outputs
        self.assertEqual(outputs['latents'].shape.as_list(), [None, 4])

    def test_no_overflow_becomes_a_black_pixel(self):
        x = tf.constant([[0.1, np.nan], [np.inf, 0.0]])
        with self.assertRaisesRegex(tf.errors.InvalidArgumentError, 'latents: overflow'):
            checks.checked_uint8(x, 8, 'latents: overflow')
        flow = checks.finite_flow(FlowImages(_ScaleFlow(1.0, 0.0), 8), 'temperature: overflow')
        with self.assertRaisesRegex(tf.errors.InvalidArgumentError, 'temperature: overflow'):
            flow.sample(tf.constant(2), tf.constant(1.0), tf.constant(0, tf.int64))
        self.assertAllEqual(checks.checked_uint8(tf.constant([-0.5, 0.499]), 8, 'unused'), [0, 255])

    def test_limits(self):
        # Eager: a failing check raises as it is made.
        for value in (np.float32(3.0), np.float32(-1.0), np.float32(np.nan)):
            with self.assertRaisesRegex(
                tf.errors.InvalidArgumentError, r'temperature must be a finite number in \[0, 2\]'
            ):
                checks.non_negative_checks(
                    tf.constant(value), 'temperature', checks.MAX_TEMPERATURE
                )
        for latents in ([[101.0]], [[-1e30]], [[np.nan]]):
            with self.assertRaisesRegex(tf.errors.InvalidArgumentError, 'latents must be finite'):
                checks.latent_checks(tf.constant(latents), 1)
        checks.latent_checks(tf.constant([[100.0, -100.0]]), 2)  # The limits are allowed.
        with self.assertRaisesRegex(
            tf.errors.InvalidArgumentError, r'num \(samples\) must be <= 8.*--max_batch'
        ):
            checks.count_checks(tf.constant(9), 'samples', 8)


class ClientTest(tf.test.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.signature = tf.function(
            lambda images, num, temperature: {'n': num},
            input_signature=[
                tf.TensorSpec([None, 2], tf.uint8, name='images'),
                tf.TensorSpec([], tf.int32, name='num'),
                tf.TensorSpec([], tf.float32, name='temperature'),
            ],
        ).get_concrete_function()

    def test_what_tensorflow_would_cast_is_refused(self):
        valid = dict(
            images=np.zeros([1, 2], np.uint8), num=np.int32(2), temperature=np.float32(0.5)
        )
        converted = client.signature_inputs(self.signature, valid)
        self.assertEqual(converted['images'].dtype, tf.uint8)
        # Plain Python numbers that fit are fine.
        client.signature_inputs(self.signature, dict(valid, num=3, temperature=1))
        cases = [
            ('images', np.array([[-1.0, 300.0]]), r'images must be uint8 .*got float64 values'),
            ('images', np.array([[1, 2]]), r'images must be uint8 of shape \[\?, 2\]; got int64'),
            ('images', np.zeros([2], np.uint8), r'got shape \[2\]'),
            ('num', 2.5, 'num must be int32 of shape \\[\\]; got float64 values'),
            ('num', True, 'num must be int32 .*got bool values'),
            ('num', 2**40, r'num must be int32 .*got values outside \[-2147483648'),
            ('temperature', np.nan, 'temperature must be float32 .*NaN, Inf'),
            ('temperature', 1e300, 'temperature must be float32 .*beyond its range'),
            ('temperature', 'hot', 'temperature must be float32 .*<U3'),
            ('temperature', tf.constant(1.0, tf.float64), 'got a float64 tensor'),
        ]
        for name, value, message in cases:
            with self.subTest(name=name, value=value):
                with self.assertRaisesRegex(ValueError, message):
                    client.signature_inputs(self.signature, dict(valid, **{name: value}))
        with self.assertRaisesRegex(ValueError, r"missing: \['num'\]"):
            client.signature_inputs(self.signature, {'images': valid['images'], 'temperature': 1})


if __name__ == '__main__':
    tf.test.main()
