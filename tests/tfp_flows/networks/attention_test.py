"""Support attention: masking, the empty set, positional channels, batching queries per set."""

import numpy as np
import tensorflow as tf

from tfp_flows.networks import attention
from tfp_flows.networks.support_encoder import SupportEncoder


def _random(*shape, seed=0):
    return tf.constant(np.random.default_rng(seed).normal(size=shape), tf.float32)


class AttentionTest(tf.test.TestCase):
    def test_unmasked_attention_is_softmax_attention(self):
        query, keys, values = _random(2, 3, 4, 5), _random(2, 3, 6, 5, seed=1), _random(2, 3, 6, 2)
        logits = np.einsum('nhqd,nhmd->nhqm', query, keys) / np.sqrt(5.0)
        weights = np.exp(logits - logits.max(-1, keepdims=True))
        weights /= weights.sum(-1, keepdims=True)
        expected = np.einsum('nhqm,nhmd->nhqd', weights, values)
        self.assertAllClose(attention.masked_attention(query, keys, values), expected, atol=1e-5)

    def test_masked_keys_are_ignored_and_an_empty_set_reads_zeros(self):
        query, keys, values = _random(2, 1, 3, 4), _random(2, 1, 5, 4, seed=1), _random(2, 1, 5, 2)
        mask = tf.constant([[True, False, True, False, False], [False] * 5])
        out = attention.masked_attention(query, keys, values, mask)
        noise = tf.where(mask[:, None, :, None], 0.0, 1e3)
        self.assertAllEqual(
            attention.masked_attention(query, keys + noise, values - noise, mask), out
        )
        self.assertAllEqual(out[1], tf.zeros_like(out[1]))
        with tf.GradientTape() as tape:
            tape.watch([query, keys, values])
            loss = tf.reduce_sum(attention.masked_attention(query, keys, values, mask))
        for gradient in tape.gradient(loss, [query, keys, values]):
            self.assertTrue(bool(tf.reduce_all(tf.math.is_finite(gradient))))

    def test_positional_channels_match_only_the_same_position(self):
        channels = attention.positional_channels(5, 7, 3).numpy().reshape(35, -1)
        similarity = channels @ channels.T
        self.assertAllEqual(np.argmax(similarity, axis=1), np.arange(35))
        self.assertTrue(np.all(similarity.max(axis=1) - np.sort(similarity, axis=1)[:, -2] > 0.1))
        with self.assertRaisesRegex(ValueError, 'num_frequencies must be >= 1'):
            attention.positional_channels(5, 7, 0)

    def test_queries_on_the_same_set_are_batched_like_separate_calls(self):
        # Features of S * B = 3 * 2 targets, sample-major; target s * B + b attends to set b.
        encoder = SupportEncoder((3, 4, 1), width=4, num_layers=1, num_frequencies=4, seed=0)
        layer = attention.SupportAttention(
            6, 4 + encoder.positional_width, encoder.positional_width, 1, 2, seed=1
        )
        support = _random(2, 3, 3, 4, 1, seed=2)
        memory = attention.support_memory(encoder(support)[0], encoder.positional)
        keys, values = layer.keys_and_values(memory)
        self.assertEqual(keys.shape, (2, 2, 3 * 3 * 4, 16))
        mask = tf.repeat(tf.constant([[True, False, True], [True, True, False]]), 12, axis=1)
        features = _random(6, 3, 4, 6, seed=3)
        batched = layer(features, encoder.positional, keys, values, mask)
        self.assertEqual(batched.shape, (6, 3, 4, 12))
        for target in range(6):
            one = target % 2
            alone = layer(
                features[target : target + 1],
                encoder.positional,
                keys[one : one + 1],
                values[one : one + 1],
                mask[one : one + 1],
            )
            self.assertAllClose(batched[target : target + 1], alone, atol=1e-5)


if __name__ == '__main__':
    tf.test.main()
