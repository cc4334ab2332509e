"""tfglow.fewshot.adapters: adapters against the models' own log_prob, and the bound maths."""

import math

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

import tfp_flows
import tfp_flows.dequantization as dq
from tests.tfglow.fewshot.helpers import (
    GLOW_SHAPE,
    PIXEL_SHAPE,
    few_shot_glow,
    glow,
    pixel_cnn,
    uint8_images,
)
from tfglow import pixels
from tfglow.fewshot import adapters
from tfp_flows import testing


class AdapterTest(tf.test.TestCase, parameterized.TestCase):
    def _assert_scores_as_its_model(self, adapter, model, images, support, mask):
        """The adapter's exact scores of uint8 images equal a 'bernoulli' model's log_prob."""
        expected = model.log_prob(
            (images >= 128).astype(np.int32),
            support=(support >= 128).astype(np.int32),
            support_mask=mask,
        )
        self.assertAllClose(
            adapter.log_prob_discrete(images, support, mask)['exact'], expected, rtol=1e-5
        )

    @parameterized.parameters('bernoulli', 'categorical')
    def test_pixel_cnn_is_exact_log_prob(self, output):
        model = pixel_cnn(attention=False, output=output)
        adapter = adapters.as_adapter(model)
        images = uint8_images((3, *PIXEL_SHAPE))
        values = images >= 128 if output == 'bernoulli' else images
        expected = model.log_prob(values.astype(np.int32))
        result = adapter.log_prob_discrete(images)
        self.assertEqual(list(result), ['exact'])
        self.assertAllClose(result['exact'], expected, rtol=1e-5)
        self.assertEqual(adapter.num_bins, 2 if output == 'bernoulli' else 256)
        self.assertFalse(adapter.takes_support)

    def test_attention_pixel_cnn_with_and_without_support(self):
        model = pixel_cnn(attention=True)
        adapter = adapters.as_adapter(model)
        images, support = (
            uint8_images((2, *PIXEL_SHAPE)),
            uint8_images((2, 3, *PIXEL_SHAPE), seed=1),
        )
        mask = np.array([[True, False, True], [True, True, True]])
        self._assert_scores_as_its_model(adapter, model, images, support, mask)
        empty = model.log_prob(
            (images >= 128).astype(np.int32),
            support=np.zeros((2, 1, *PIXEL_SHAPE), np.int32),
            support_mask=np.zeros((2, 1), bool),
        )
        self.assertAllClose(adapter.log_prob_discrete(images)['exact'], empty, rtol=1e-5)
        self.assertTrue(adapter.takes_support)

    @parameterized.named_parameters(('vector', 0), ('spatial', 2))
    def test_meta_pixel_cnn_adapts_each_distinct_set_once(self, grid):
        model = tfp_flows.MetaPixelCNN(
            PIXEL_SHAPE,
            'bernoulli',
            num_layers=2,
            hidden_width=8,
            condition_width=4,
            condition_grid=grid,
            inner_loss_width=4,
            inner_loss_layers=1,
            seed=0,
        )
        testing.perturb_variables(model, 0.3, seed=1)
        adapter = adapters.as_adapter(model)
        images = uint8_images((5, *PIXEL_SHAPE))
        sets = uint8_images((2, 2, *PIXEL_SHAPE), seed=1)
        # Rows 0, 2, 4 share a set; row 3 is row 1's set with different pixels in its padded slot.
        support = sets[[0, 1, 0, 1, 0]].copy()
        support[3, 1] = 255 - support[3, 1]
        mask = np.array([[True, True], [True, False], [True, True], [True, False], [True, True]])
        adapted = []
        adapt = adapter._adapt
        adapter._adapt = lambda *sets: adapted.append(len(sets[0])) or adapt(*sets)
        self._assert_scores_as_its_model(adapter, model, images, support, mask)
        self.assertEqual(adapted, [2])
        self.assertTrue(adapter.takes_support)

    @parameterized.parameters(1, 3)
    def test_few_shot_glow_bounds_match_a_hand_computation(self, draws):
        n_bits = 3
        model = few_shot_glow()
        adapter = adapters.as_adapter(model, n_bits=n_bits, num_noise_samples=draws)
        images = uint8_images((2, *GLOW_SHAPE), seed=3)
        support = uint8_images((2, 4, *GLOW_SHAPE), seed=4)
        seeds = np.array([11, 12])
        result = adapter.log_prob_discrete(images, support, seed=seeds)

        log_p = np.zeros((draws, 2))
        for j in range(draws):
            for b in range(2):
                noise = pixels.uniform_noise(seeds[b], j, GLOW_SHAPE)[0].numpy()
                x = (np.floor(images[b] / 32.0) + noise) / 8.0 - 0.5
                log_p[j, b] = model.log_prob(
                    x[None].astype(np.float32), support=dq.preprocess(support[b : b + 1], n_bits)
                )[0]
        box = 64 * math.log(8.0)
        plain = log_p.mean(axis=0) - box
        weighted = np.log(np.mean(np.exp(log_p - log_p.max(0)), axis=0)) + log_p.max(0) - box
        self.assertAllClose(result['dequantized'], plain, rtol=1e-5)
        self.assertAllClose(result['dequantized_iw'], weighted, rtol=1e-5)
        if draws == 1:
            self.assertAllClose(result['dequantized'], result['dequantized_iw'])
        else:
            self.assertTrue(np.all(result['dequantized'] < result['dequantized_iw']))

    def test_plain_average_never_exceeds_the_importance_weighted_bound(self):
        adapter = adapters.as_adapter(glow(), n_bits=5, num_noise_samples=4)
        result = adapter.log_prob_discrete(uint8_images((6, *GLOW_SHAPE)), seed=np.arange(6))
        self.assertTrue(np.all(result['dequantized'] <= result['dequantized_iw']))
        self.assertFalse(adapter.takes_support)
        with self.assertRaisesRegex(ValueError, 'takes no support'):
            adapter.log_prob_discrete(
                uint8_images((1, *GLOW_SHAPE)), uint8_images((1, 1, *GLOW_SHAPE)), seed=0
            )

    def test_variational_dequantizer_maps_the_noise_and_divides_by_q(self):
        model = tfp_flows.FewShotGlow(
            GLOW_SHAPE,
            num_levels=2,
            steps_per_level=1,
            hidden_width=8,
            context_channels=4,
            encoder_width=8,
            num_heads=2,
            dequantization='variational',
            dequantizer_couplings=1,
            dequantizer_width=4,
            seed=0,
        )
        images = uint8_images((2, *GLOW_SHAPE), seed=3)
        support = dq.preprocess(uint8_images((2, 4, *GLOW_SHAPE), seed=4), 3)
        x = dq.preprocess(images, 3)
        model.initialize(dq.dequantize(x, 3, seed=[0, 1]), support=support)
        testing.perturb_variables(model, 0.05, seed=2)
        adapter = adapters.as_adapter(model, n_bits=3, num_noise_samples=2)
        seeds = np.array([11, 12])
        result = adapter.log_prob_discrete(
            images, uint8_images((2, 4, *GLOW_SHAPE), seed=4), seed=seeds
        )
        weights = []
        for j in range(2):
            noise = pixels.uniform_noise(seeds, j, GLOW_SHAPE)
            u, log_q = model.dequantizer.sample_and_log_prob(x, noise=noise)
            self.assertGreater(float(tf.reduce_max(tf.abs(log_q))), 1e-3)  # Not uniform.
            weights.append(model.log_prob(x + u / 8.0, support=support) - log_q)
        weights = np.array(weights, np.float64)
        box = 64 * math.log(8.0)
        weighted = np.log(np.mean(np.exp(weights - weights.max(0)), axis=0)) + weights.max(0)
        self.assertAllClose(result['dequantized'], weights.mean(0) - box, rtol=1e-5)
        self.assertAllClose(result['dequantized_iw'], weighted - box, rtol=1e-5)
        self.assertEqual(adapters.describe(adapter)['dequantization'], 'variational')
        uniform = adapters.as_adapter(few_shot_glow(), n_bits=3)
        self.assertEqual(adapters.describe(uniform)['dequantization'], 'uniform')

    def test_equal_seeds_give_equal_noise(self):
        adapter = adapters.as_adapter(few_shot_glow(), n_bits=3, num_noise_samples=2)
        image = uint8_images((1, *GLOW_SHAPE))
        images = np.concatenate([image] * 3)
        support = np.concatenate([uint8_images((1, 2, *GLOW_SHAPE), seed=5)] * 3)
        values = adapter.log_prob_discrete(images, support, seed=np.array([4, 4, 5]))['dequantized']
        self.assertAllClose(values[0], values[1])
        self.assertNotAllClose(values[0], values[2])

    def test_no_support_is_the_all_masked_support(self):
        adapter = adapters.as_adapter(few_shot_glow(), n_bits=3, num_noise_samples=2)
        images = uint8_images((2, *GLOW_SHAPE))
        support = uint8_images((2, 3, *GLOW_SHAPE), seed=1)
        masked = adapter.log_prob_discrete(images, support, np.zeros((2, 3), bool), seed=1)
        empty = adapter.log_prob_discrete(images, seed=1)
        for estimator in adapter.estimators:
            self.assertAllClose(masked[estimator], empty[estimator], rtol=1e-5)
        full = adapter.log_prob_discrete(images, support, seed=1)
        self.assertNotAllClose(full['dequantized'], empty['dequantized'])

    def test_glow_samples_are_images_of_the_model_levels(self):
        adapter = adapters.as_adapter(few_shot_glow(), n_bits=1)
        support = uint8_images((2, 3, *GLOW_SHAPE))
        samples = adapter.sample_uint8(4, support, seed=7, temperature=0.7)
        self.assertEqual(samples.shape, (4, 2, *GLOW_SHAPE))
        self.assertEqual(samples.dtype, np.uint8)
        self.assertContainsSubset(np.unique(samples).tolist(), [0, 255])
        self.assertAllEqual(samples, adapter.sample_uint8(4, support, seed=7, temperature=0.7))
        self.assertEqual(adapter.sample_uint8(3, seed=1).shape, (3, *GLOW_SHAPE))

    def test_pixel_cnn_samples(self):
        adapter = adapters.as_adapter(pixel_cnn(attention=True))
        samples = adapter.sample_uint8(2, uint8_images((3, 2, *PIXEL_SHAPE)), seed=1)
        self.assertEqual(samples.shape, (2, 3, *PIXEL_SHAPE))
        self.assertContainsSubset(np.unique(samples).tolist(), [0, 255])
        # A low temperature draws each pixel's likelier value: the seed barely matters.
        cold = [adapter.sample_uint8(8, seed=s, temperature=0.01) for s in (1, 2)]
        self.assertAllEqual(cold[0], cold[1])
        with self.assertRaisesRegex(ValueError, 'temperature must be a finite number > 0'):
            adapter.sample_uint8(2, seed=1, temperature=0.0)

    def test_clear_errors(self):
        with self.assertRaisesRegex(ValueError, 'n_bits'):
            adapters.as_adapter(glow())
        with self.assertRaisesRegex(TypeError, 'expected a FewShotGlow'):
            adapters.as_adapter(object())
        conditional = tfp_flows.PixelCNN(PIXEL_SHAPE, num_layers=2, hidden_width=4, num_classes=3)
        with self.assertRaisesRegex(ValueError, 'class-conditional'):
            adapters.as_adapter(conditional)
        adapter = adapters.as_adapter(pixel_cnn(attention=True))
        with self.assertRaisesRegex(ValueError, r'uint8 \[B, H, W, C\]'):
            adapter.log_prob_discrete(np.zeros((2, *PIXEL_SHAPE), np.float32))
        with self.assertRaisesRegex(ValueError, 'one set per image'):
            adapter.log_prob_discrete(
                uint8_images((2, *PIXEL_SHAPE)), uint8_images((3, 1, *PIXEL_SHAPE))
            )
        with self.assertRaisesRegex(ValueError, 'support_mask must have shape'):
            adapter.log_prob_discrete(
                uint8_images((2, *PIXEL_SHAPE)),
                uint8_images((2, 2, *PIXEL_SHAPE)),
                np.ones((2, 3), bool),
            )


if __name__ == '__main__':
    tf.test.main()
