"""tfglow.fewshot.episodes: seeded disjoint episodes and the 95% interval."""

import math

import tensorflow as tf

from tfglow.fewshot.episodes import check_episode_classes, confidence_interval, sample_episodes


class EpisodesTest(tf.test.TestCase):
    def test_confidence_interval_on_known_counts(self):
        # Episodes with 4/4, 2/4, 2/4, 4/4 correct: mean 0.75, sample std sqrt(1/12).
        mean, half_width = confidence_interval([1.0, 0.5, 0.5, 1.0])
        self.assertAlmostEqual(mean, 0.75)
        self.assertAlmostEqual(half_width, 1.959963984540054 * math.sqrt(1 / 12) / 2)
        with self.assertRaisesRegex(ValueError, 'at least 2 episodes'):
            confidence_interval([1.0])

    def test_episodes_are_seeded_disjoint_and_shared_across_runs(self):
        sizes = [20] * 30
        episodes = sample_episodes(sizes, 5, 3, 10, queries_per_class=2, seed=4)
        self.assertEqual(episodes.support.shape, (10, 5, 3))
        self.assertEqual(episodes.queries.shape, (10, 5, 2))
        for e in range(10):
            self.assertLen(set(episodes.classes[e]), 5)
            for n in range(5):
                self.assertEmpty(set(episodes.support[e, n]) & set(episodes.queries[e, n]))
        longer = sample_episodes(sizes, 5, 3, 30, queries_per_class=2, seed=4)
        self.assertAllEqual(longer.classes[:10], episodes.classes)
        self.assertAllEqual(longer.support[:10], episodes.support)
        other = sample_episodes(sizes, 5, 3, 10, queries_per_class=2, seed=5)
        self.assertNotAllEqual(other.classes, episodes.classes)

    def test_within_group_episodes_draw_every_class_from_one_group(self):
        # Groups a: 5 classes, b: 3, c: 6, d: 1 (interleaved); 4-way episodes skip b and d.
        groups = list('aabcacbadbaccacc')
        episodes = sample_episodes([6] * len(groups), 4, 1, 200, groups=groups, seed=1)
        self.assertEqual(episodes.groups_skipped, 2)
        drawn = set()
        for classes in episodes.classes:
            self.assertLen(set(classes), 4)
            self.assertLen({groups[c] for c in classes}, 1)
            drawn.add(groups[classes[0]])
        self.assertEqual(drawn, {'a', 'c'})
        # Without groups, the classes of one episode span groups.
        mixed = sample_episodes([6] * len(groups), 4, 1, 200, seed=1)
        self.assertGreater(max(len({groups[c] for c in e}) for e in mixed.classes), 1)

    def test_within_group_errors(self):
        with self.assertRaisesRegex(
            ValueError,
            'need a group \\(alphabet\\) of 4 classes; the largest of the 2 groups has 3',
        ):
            sample_episodes([6] * 5, 4, 1, 10, groups=list('aaabb'))
        with self.assertRaisesRegex(ValueError, 'got 2 groups for 5 classes'):
            sample_episodes([6] * 5, 2, 1, 10, groups=list('ab'))
        with self.assertRaisesRegex(ValueError, 'must be one of cross_alphabet, within_alphabet'):
            check_episode_classes('one_alphabet')

    def test_bad_n_and_k(self):
        sizes = [6] * 4
        for kwargs, message in (
            (dict(n_way=5, k_shot=1), '5-way episodes need 5 classes'),
            (dict(n_way=1, k_shot=1), 'N \\(ways\\) must be an integer >= 2'),
            (dict(n_way=2, k_shot=0), 'K \\(shots\\) must be an integer >= 1'),
            (dict(n_way=2, k_shot=6), 'need 7 images per class'),
        ):
            with self.assertRaisesRegex(ValueError, message):
                sample_episodes(sizes, num_episodes=10, **kwargs)


if __name__ == '__main__':
    tf.test.main()
