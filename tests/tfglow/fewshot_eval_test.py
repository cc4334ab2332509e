"""tfglow.fewshot_eval: adapters against the models' own log_prob, bound maths, analyses, files."""

import functools
import glob
import json
import math
import os

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

import tfp_flows
import tfp_flows.dequantization as dq
from tfglow import fewshot_eval
from tfglow.models.fewshot import FewShotGlow
from tfp_flows import testing

GLOW_SHAPE = (8, 8, 1)
PIXEL_SHAPE = (4, 4, 1)


def _uint8(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


# The models are built once: the tests only read them.
@functools.cache
def _few_shot_glow():
    model = FewShotGlow(
        GLOW_SHAPE,
        num_levels=2,
        steps_per_level=1,
        hidden_width=8,
        context_channels=4,
        encoder_width=8,
        num_heads=2,
        seed=0,
    )
    x = dq.dequantize(dq.preprocess(_uint8((6, *GLOW_SHAPE)), 3), 3, seed=[0, 1])
    model.initialize(x, support=dq.preprocess(_uint8((6, 2, *GLOW_SHAPE), seed=1), 3))
    # Leave the zero-initialised state, so that the support changes the density.
    testing.perturb_variables(model, 0.05, seed=2)
    return model


@functools.cache
def _glow():
    model = tfp_flows.Glow(GLOW_SHAPE, num_levels=2, steps_per_level=1, hidden_width=8, seed=0)
    model.initialize(dq.dequantize(dq.preprocess(_uint8((6, *GLOW_SHAPE)), 3), 3, seed=[0, 1]))
    testing.perturb_variables(model, 0.05, seed=2)
    return model


@functools.cache
def _pixel_cnn(attention: bool, output: str = 'bernoulli'):
    options = dict(output=output, num_layers=2, hidden_width=8, seed=0)
    if attention:
        model = tfp_flows.AttentionPixelCNN(
            PIXEL_SHAPE,
            num_heads=1,
            key_width=4,
            value_width=4,
            encoder_width=4,
            encoder_layers=1,
            **options,
        )
    else:
        model = tfp_flows.PixelCNN(PIXEL_SHAPE, **options)
    testing.perturb_variables(model, 0.3, seed=1)
    return model


class NearestSupport:
    """A rigged 'model': log P(x | S) = -(mean squared distance to the nearest image of S).

    Classification by it is nearest-neighbour classification, so on well-separated classes the
    answer is known. Sampling returns the support's mean image and records the set sizes seen.
    """

    name = 'nearest_support'
    image_shape = PIXEL_SHAPE
    num_bins = 256
    takes_support = True
    estimators = ('exact',)

    def __init__(self, sign: float = 1.0):
        self.sign = sign
        self.sample_support_sizes = []
        self.scored_supports = []

    def log_prob_discrete(self, images, support=None, support_mask=None, seed=0):
        del support_mask, seed
        if support is None:
            return {'exact': np.full(len(images), -1e4)}
        self.scored_supports.append(support)
        difference = support.astype(np.float64) - images[:, None].astype(np.float64)
        distance = np.mean(difference**2, axis=(2, 3, 4)).min(axis=1)
        return {'exact': -self.sign * distance}

    def sample_uint8(self, n, support=None, support_mask=None, seed=0, temperature=1.0):
        del support_mask, seed, temperature
        self.sample_support_sizes.append(support.shape[1])
        mean = support.mean(axis=1).astype(np.uint8)
        return np.broadcast_to(mean, (n, *mean.shape)).copy()


def _separated_classes(num_classes=6, per_class=6, shape=PIXEL_SHAPE):
    """Class c's images are c * 40 + noise in [0, 5): every image is nearest to its own class."""
    rng = np.random.default_rng(0)
    return {
        f'alphabet/character{c:02d}': (c * 40 + rng.integers(0, 5, (per_class, *shape))).astype(
            np.uint8
        )
        for c in range(num_classes)
    }


class QuantizationTest(tf.test.TestCase):
    def test_binary_threshold_is_128(self):
        self.assertAllEqual(
            fewshot_eval.quantize(np.array([0, 1, 127, 128, 200, 255], np.uint8), 2),
            [0, 0, 0, 1, 1, 1],
        )

    def test_levels_round_trip_and_span_the_uint8_range(self):
        for n_bits in range(1, 9):
            bins = 2**n_bits
            shown = fewshot_eval.levels_to_uint8(np.arange(bins), bins)
            self.assertAllEqual(fewshot_eval.quantize(shown, bins), np.arange(bins))
            # The same bins as the flows' preprocessing.
            self.assertAllClose(
                dq.preprocess(shown, n_bits), np.arange(bins) / bins - 0.5, atol=1e-7
            )
            self.assertEqual((shown[0], shown[-1]), (0, 255))


class AdapterTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.parameters('bernoulli', 'categorical')
    def test_pixel_cnn_is_exact_log_prob(self, output):
        model = _pixel_cnn(attention=False, output=output)
        adapter = fewshot_eval.as_adapter(model)
        images = _uint8((3, *PIXEL_SHAPE))
        values = images >= 128 if output == 'bernoulli' else images
        expected = model.log_prob(values.astype(np.int32))
        result = adapter.log_prob_discrete(images)
        self.assertEqual(list(result), ['exact'])
        self.assertAllClose(result['exact'], expected, rtol=1e-5)
        self.assertEqual(adapter.num_bins, 2 if output == 'bernoulli' else 256)
        self.assertFalse(adapter.takes_support)

    def test_attention_pixel_cnn_with_and_without_support(self):
        model = _pixel_cnn(attention=True)
        adapter = fewshot_eval.as_adapter(model)
        images, support = _uint8((2, *PIXEL_SHAPE)), _uint8((2, 3, *PIXEL_SHAPE), seed=1)
        mask = np.array([[True, False, True], [True, True, True]])
        expected = model.log_prob(
            (images >= 128).astype(np.int32),
            support=(support >= 128).astype(np.int32),
            support_mask=mask,
        )
        self.assertAllClose(
            adapter.log_prob_discrete(images, support, mask)['exact'], expected, rtol=1e-5
        )
        empty = model.log_prob(
            (images >= 128).astype(np.int32),
            support=np.zeros((2, 1, *PIXEL_SHAPE), np.int32),
            support_mask=np.zeros((2, 1), bool),
        )
        self.assertAllClose(adapter.log_prob_discrete(images)['exact'], empty, rtol=1e-5)
        self.assertTrue(adapter.takes_support)

    @parameterized.parameters(1, 3)
    def test_few_shot_glow_bounds_match_a_hand_computation(self, draws):
        n_bits = 3
        model = _few_shot_glow()
        adapter = fewshot_eval.as_adapter(model, n_bits=n_bits, num_noise_samples=draws)
        images = _uint8((2, *GLOW_SHAPE), seed=3)
        support = _uint8((2, 4, *GLOW_SHAPE), seed=4)
        seeds = np.array([11, 12])
        result = adapter.log_prob_discrete(images, support, seed=seeds)

        log_p = np.zeros((draws, 2))
        for j in range(draws):
            for b in range(2):
                noise = np.random.default_rng([seeds[b], j]).random(GLOW_SHAPE, np.float32)
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
        adapter = fewshot_eval.as_adapter(_glow(), n_bits=5, num_noise_samples=4)
        result = adapter.log_prob_discrete(_uint8((6, *GLOW_SHAPE)), seed=np.arange(6))
        self.assertTrue(np.all(result['dequantized'] <= result['dequantized_iw']))
        self.assertFalse(adapter.takes_support)
        with self.assertRaisesRegex(ValueError, 'takes no support'):
            adapter.log_prob_discrete(_uint8((1, *GLOW_SHAPE)), _uint8((1, 1, *GLOW_SHAPE)), seed=0)

    def test_equal_seeds_give_equal_noise(self):
        adapter = fewshot_eval.as_adapter(_few_shot_glow(), n_bits=3, num_noise_samples=2)
        image = _uint8((1, *GLOW_SHAPE))
        images = np.concatenate([image] * 3)
        support = np.concatenate([_uint8((1, 2, *GLOW_SHAPE), seed=5)] * 3)
        values = adapter.log_prob_discrete(images, support, seed=np.array([4, 4, 5]))['dequantized']
        self.assertAllClose(values[0], values[1])
        self.assertNotAllClose(values[0], values[2])

    def test_no_support_is_the_all_masked_support(self):
        adapter = fewshot_eval.as_adapter(_few_shot_glow(), n_bits=3, num_noise_samples=2)
        images = _uint8((2, *GLOW_SHAPE))
        support = _uint8((2, 3, *GLOW_SHAPE), seed=1)
        masked = adapter.log_prob_discrete(images, support, np.zeros((2, 3), bool), seed=1)
        empty = adapter.log_prob_discrete(images, seed=1)
        for estimator in adapter.estimators:
            self.assertAllClose(masked[estimator], empty[estimator], rtol=1e-5)
        full = adapter.log_prob_discrete(images, support, seed=1)
        self.assertNotAllClose(full['dequantized'], empty['dequantized'])

    def test_glow_samples_are_images_of_the_model_levels(self):
        adapter = fewshot_eval.as_adapter(_few_shot_glow(), n_bits=1)
        support = _uint8((2, 3, *GLOW_SHAPE))
        samples = adapter.sample_uint8(4, support, seed=7, temperature=0.7)
        self.assertEqual(samples.shape, (4, 2, *GLOW_SHAPE))
        self.assertEqual(samples.dtype, np.uint8)
        self.assertContainsSubset(np.unique(samples).tolist(), [0, 255])
        self.assertAllEqual(samples, adapter.sample_uint8(4, support, seed=7, temperature=0.7))
        self.assertEqual(adapter.sample_uint8(3, seed=1).shape, (3, *GLOW_SHAPE))

    def test_pixel_cnn_samples(self):
        adapter = fewshot_eval.as_adapter(_pixel_cnn(attention=True))
        samples = adapter.sample_uint8(2, _uint8((3, 2, *PIXEL_SHAPE)), seed=1)
        self.assertEqual(samples.shape, (2, 3, *PIXEL_SHAPE))
        self.assertContainsSubset(np.unique(samples).tolist(), [0, 255])
        with self.assertRaisesRegex(ValueError, 'temperature 1 only'):
            adapter.sample_uint8(2, seed=1, temperature=0.5)

    def test_clear_errors(self):
        with self.assertRaisesRegex(ValueError, 'n_bits'):
            fewshot_eval.as_adapter(_glow())
        with self.assertRaisesRegex(TypeError, 'expected a FewShotGlow'):
            fewshot_eval.as_adapter(object())
        conditional = tfp_flows.PixelCNN(PIXEL_SHAPE, num_layers=2, hidden_width=4, num_classes=3)
        with self.assertRaisesRegex(ValueError, 'class-conditional'):
            fewshot_eval.as_adapter(conditional)
        adapter = fewshot_eval.as_adapter(_pixel_cnn(attention=True))
        with self.assertRaisesRegex(ValueError, r'uint8 \[B, H, W, C\]'):
            adapter.log_prob_discrete(np.zeros((2, *PIXEL_SHAPE), np.float32))
        with self.assertRaisesRegex(ValueError, 'one set per image'):
            adapter.log_prob_discrete(_uint8((2, *PIXEL_SHAPE)), _uint8((3, 1, *PIXEL_SHAPE)))
        with self.assertRaisesRegex(ValueError, 'support_mask must have shape'):
            adapter.log_prob_discrete(
                _uint8((2, *PIXEL_SHAPE)), _uint8((2, 2, *PIXEL_SHAPE)), np.ones((2, 3), bool)
            )


class ClassificationTest(tf.test.TestCase):
    def test_rigged_nearest_support_model_is_always_right(self):
        class_arrays = _separated_classes()
        for n_way, k_shot in ((5, 1), (3, 2)):
            result = fewshot_eval.classify(
                NearestSupport(), class_arrays, n_way, k_shot, num_episodes=20, batch_size=7
            )
            self.assertEqual(result['accuracy']['exact']['mean'], 1.0)
            self.assertEqual(result['accuracy']['exact']['ci95'], 0.0)
            self.assertLen(result['accuracy']['exact']['per_episode'], 20)
            self.assertAlmostEqual(result['chance'], 1.0 / n_way)

    def test_farthest_support_model_is_always_wrong(self):
        result = fewshot_eval.classify(
            NearestSupport(sign=-1.0), _separated_classes(), 4, 1, num_episodes=5
        )
        self.assertEqual(result['accuracy']['exact']['mean'], 0.0)

    def test_confidence_interval_on_known_counts(self):
        # Episodes with 4/4, 2/4, 2/4, 4/4 correct: mean 0.75, sample std sqrt(1/12).
        mean, half_width = fewshot_eval.confidence_interval([1.0, 0.5, 0.5, 1.0])
        self.assertAlmostEqual(mean, 0.75)
        self.assertAlmostEqual(half_width, 1.959963984540054 * math.sqrt(1 / 12) / 2)
        with self.assertRaisesRegex(ValueError, 'at least 2 episodes'):
            fewshot_eval.confidence_interval([1.0])

    def test_episodes_are_seeded_disjoint_and_shared_across_runs(self):
        sizes = [20] * 30
        episodes = fewshot_eval.sample_episodes(sizes, 5, 3, 10, queries_per_class=2, seed=4)
        self.assertEqual(episodes.support.shape, (10, 5, 3))
        self.assertEqual(episodes.queries.shape, (10, 5, 2))
        for e in range(10):
            self.assertLen(set(episodes.classes[e]), 5)
            for n in range(5):
                self.assertEmpty(set(episodes.support[e, n]) & set(episodes.queries[e, n]))
        longer = fewshot_eval.sample_episodes(sizes, 5, 3, 30, queries_per_class=2, seed=4)
        self.assertAllEqual(longer.classes[:10], episodes.classes)
        self.assertAllEqual(longer.support[:10], episodes.support)
        other = fewshot_eval.sample_episodes(sizes, 5, 3, 10, queries_per_class=2, seed=5)
        self.assertNotAllEqual(other.classes, episodes.classes)

    def test_bad_n_and_k(self):
        sizes = [6] * 4
        for kwargs, message in (
            (dict(n_way=5, k_shot=1), '5-way episodes need 5 classes'),
            (dict(n_way=1, k_shot=1), 'N \\(ways\\) must be an integer >= 2'),
            (dict(n_way=2, k_shot=0), 'K \\(shots\\) must be an integer >= 1'),
            (dict(n_way=2, k_shot=6), 'need 7 images per class'),
        ):
            with self.assertRaisesRegex(ValueError, message):
                fewshot_eval.sample_episodes(sizes, num_episodes=10, **kwargs)

    def test_unconditional_model_is_refused(self):
        adapter = fewshot_eval.as_adapter(_pixel_cnn(attention=False))
        with self.assertRaisesRegex(ValueError, 'takes no support set'):
            fewshot_eval.classify(adapter, _separated_classes(), 2, 1, num_episodes=2)


class SweepTest(tf.test.TestCase):
    def test_structure_and_nested_supports(self):
        model = NearestSupport()
        sweep = fewshot_eval.cardinality_sweep(
            model,
            _separated_classes(per_class=5),
            ks=(4, 1, 2),
            baseline=NearestSupport(),
            targets_per_class=2,
            batch_size=5,
        )
        self.assertEqual(sweep['ks'], [1, 2, 4])
        self.assertEqual((sweep['num_classes'], sweep['num_targets']), (6, 12))
        self.assertEqual([row['k'] for row in sweep['conditional']], [1, 2, 4])
        for stats in [
            *(row['exact'] for row in sweep['conditional']),
            sweep['no_support']['exact'],
        ]:
            self.assertEqual(set(stats), {'nats_per_image', 'stderr', 'bits_per_dim'})
            self.assertAlmostEqual(
                stats['bits_per_dim'], stats['nats_per_image'] / (16 * math.log(2))
            )
        self.assertAlmostEqual(sweep['baseline_no_support']['exact']['nats_per_image'], 1e4)
        # Bigger sets contain the smaller ones, so the nearest image only gets nearer.
        nll = [row['exact']['nats_per_image'] for row in sweep['conditional']]
        self.assertEqual(nll, sorted(nll, reverse=True))
        by_k = {s.shape[1]: s for s in model.scored_supports}
        self.assertAllEqual(by_k[2][:, :1], by_k[1])
        self.assertAllEqual(by_k[4][:, :2], by_k[2])
        # Paired gains: the mean of differences is the difference of means; none at the first K.
        gains = {row['k']: row['exact'] for row in sweep['paired_gains']}
        self.assertEqual(gains[1]['over_first_k'], {'nats_per_image': 0.0, 'stderr': 0.0})
        for row in sweep['conditional']:
            gain = gains[row['k']]
            self.assertAlmostEqual(
                gain['over_first_k']['nats_per_image'], nll[0] - row['exact']['nats_per_image']
            )
            self.assertAlmostEqual(
                gain['over_no_support']['nats_per_image'],
                sweep['no_support']['exact']['nats_per_image'] - row['exact']['nats_per_image'],
            )
            self.assertIn('over_baseline', gain)
        json.dumps(sweep)  # JSON-ready.
        table = fewshot_eval.format_sweep_table(sweep)
        self.assertIn('| 4 |', table)
        self.assertIn('| 4 | exact | +', table)
        self.assertIn('exact: exact log P(x | support)', table)

    def test_few_shot_glow_with_an_unconditional_baseline(self):
        rng = np.random.default_rng(0)
        class_arrays = {str(c): rng.integers(0, 256, (4, *GLOW_SHAPE), np.uint8) for c in range(3)}
        model = fewshot_eval.as_adapter(_few_shot_glow(), n_bits=3, num_noise_samples=3)
        baseline = fewshot_eval.as_adapter(_glow(), n_bits=3, num_noise_samples=3)
        sweep = fewshot_eval.cardinality_sweep(
            model, class_arrays, ks=(1, 3), baseline=baseline, batch_size=2
        )
        for values in [*sweep['conditional'], sweep['no_support'], sweep['baseline_no_support']]:
            # The importance-weighted bound is tighter: a smaller NLL.
            self.assertLessEqual(
                values['dequantized_iw']['nats_per_image'], values['dequantized']['nats_per_image']
            )
            self.assertTrue(math.isfinite(values['dequantized']['nats_per_image']))
        self.assertEqual(sweep['baseline']['type'], 'Glow')
        self.assertEqual(sweep['model']['num_noise_samples'], 3)
        self.assertIn('dequantized_iw', fewshot_eval.format_sweep_table(sweep))

    def test_clear_errors(self):
        class_arrays = _separated_classes(per_class=4)
        with self.assertRaisesRegex(ValueError, 'K=4 needs 5 images per class'):
            fewshot_eval.cardinality_sweep(NearestSupport(), class_arrays, ks=(1, 4))
        with self.assertRaisesRegex(ValueError, 'every K must be an integer >= 1'):
            fewshot_eval.cardinality_sweep(NearestSupport(), class_arrays, ks=(0, 1))
        with self.assertRaisesRegex(ValueError, 'takes no support set'):
            fewshot_eval.cardinality_sweep(
                fewshot_eval.as_adapter(_pixel_cnn(attention=False)), class_arrays, ks=(1,)
            )
        with self.assertRaisesRegex(ValueError, "model's image shape"):
            fewshot_eval.cardinality_sweep(
                NearestSupport(), _separated_classes(shape=(5, 5, 1)), ks=(1,)
            )


class SamplingTest(tf.test.TestCase):
    def test_refined_sampling_grows_the_support(self):
        model = NearestSupport()
        support = _uint8((3, 2, *PIXEL_SHAPE))
        refined = fewshot_eval.refined_sampling(model, support, num_samples=3, rounds=3)
        self.assertEqual(refined['support_sizes'], [2, 5, 8])
        self.assertEqual(model.sample_support_sizes, [2, 5, 8])
        self.assertEqual(refined['samples'].shape, (3, 3, 3, *PIXEL_SHAPE))

    def test_refined_sampling_with_a_few_shot_glow(self):
        model = fewshot_eval.as_adapter(_few_shot_glow(), n_bits=3)
        refined = fewshot_eval.refined_sampling(
            model, _uint8((2, 2, *GLOW_SHAPE)), num_samples=2, rounds=2, temperature=0.5, seed=3
        )
        self.assertEqual(refined['samples'].shape, (2, 2, 2, *GLOW_SHAPE))
        self.assertEqual(refined['samples'].dtype, np.uint8)

    def test_grid_has_a_support_row_and_a_row_per_round(self):
        grid = fewshot_eval.sample_grid(
            _uint8((2, *PIXEL_SHAPE)), _uint8((3, 5, *PIXEL_SHAPE), seed=1)
        )
        self.assertEqual(grid.shape, (4 * 5 + 1, 5 * 5 + 1, 1))


class RunEvaluationTest(tf.test.TestCase):
    def test_writes_results_tables_pngs_and_summaries(self):
        output_dir = os.path.join(self.get_temp_dir(), 'eval')
        options = fewshot_eval.EvalOptions(
            ks=(1, 2),
            settings=((3, 1), (2, 2)),
            num_episodes=4,
            sample_sets=2,
            sample_shots=2,
            samples_per_set=3,
            rounds=2,
        )
        results = fewshot_eval.run_evaluation(
            NearestSupport(),
            _separated_classes(),
            output_dir,
            options,
            baseline=NearestSupport(),
            metadata={'workdir': 'none'},
        )
        with open(os.path.join(output_dir, 'results.json')) as f:
            self.assertEqual(json.load(f)['metadata'], {'workdir': 'none'})
        self.assertLen(results['classification'], 2)
        with open(os.path.join(output_dir, 'summary.md')) as f:
            summary = f.read()
        self.assertIn('3-way 1-shot', summary)
        self.assertIn('| 2 |', summary)
        pngs = sorted(glob.glob(os.path.join(output_dir, 'samples', '*.png')))
        self.assertLen(pngs, 2)
        self.assertEqual(results['sampling']['files'], pngs)
        self.assertRegex(os.path.basename(pngs[0]), r'set00_alphabet_character\d\d\.png')
        grid = tf.io.decode_png(tf.io.read_file(pngs[0])).numpy()
        self.assertEqual(grid.shape, (3 * 5 + 1, 3 * 5 + 1, 1))

        steps = {}
        for path in glob.glob(os.path.join(output_dir, 'events.out.tfevents.*')):
            for event in tf.compat.v1.train.summary_iterator(path):
                for value in event.summary.value:
                    steps.setdefault(value.tag, set()).add(event.step)
        self.assertEqual(steps['nll_nats/conditional/exact'], {1, 2})
        self.assertEqual(steps['nll_nats/baseline_no_support/exact'], {1, 2})
        self.assertIn('bits_per_dim/no_support/exact', steps)
        self.assertIn('classification/3way_1shot/exact', steps)
        self.assertLen([tag for tag in steps if tag.startswith('samples/')], 2)

    def test_bad_analysis(self):
        with self.assertRaisesRegex(ValueError, 'analyses must be some of'):
            fewshot_eval.run_evaluation(
                NearestSupport(),
                _separated_classes(),
                self.get_temp_dir(),
                fewshot_eval.EvalOptions(analyses=('sweeps',)),
            )


if __name__ == '__main__':
    tf.test.main()
