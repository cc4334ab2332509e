"""Episodic batches: support/target structure, set sizes, determinism, sharding, real Omniglot."""

import collections
import os

import numpy as np
import tensorflow as tf

from tfglow.data import episodic, omniglot

# The first Omniglot train file where config.data.path = '' would look (../shared beside the repo).
OMNIGLOT = next(
    (
        path
        for path in (os.path.join(d, 'train_small.npz') for d in omniglot.search_dirs())
        if os.path.isfile(path)
    ),
    os.path.join(omniglot.search_dirs()[0], 'train_small.npz'),
)


def _classes(num_classes=5, per_class=8, shape=(4, 4, 1)):
    """Every image names itself: pixel (0, 0) = class id + 1, pixel (0, 1) = index + 1."""
    arrays = {}
    for c in range(num_classes):
        images = np.zeros((per_class, *shape), np.uint8)
        images[:, 0, 0, 0] = c + 1
        images[:, 0, 1, 0] = np.arange(per_class) + 1
        arrays[f'class{c}'] = images
    return arrays


def _batches(dataset, count):
    return list(dataset.take(count).as_numpy_iterator())


class EpisodicTest(tf.test.TestCase):
    def _index_in(self, drawings, image):
        """Position of `image` among the class's `drawings` [n, D]; fails if it is not one."""
        matches = np.flatnonzero((drawings == image.reshape(1, -1)).all(axis=1))
        self.assertNotEmpty(matches, 'image not from the episode class')
        return int(matches[0])

    def test_episodes_are_one_class_with_the_target_outside_the_support(self):
        dataset = episodic.make_episodes(_classes(), batch_size=4, k_min=2, k_max=5, seed=0)
        self.assertEqual(dataset.element_spec['support'], tf.TensorSpec([4, 5, 4, 4, 1], tf.uint8))
        self.assertEqual(dataset.element_spec['support_mask'], tf.TensorSpec([4, 5], tf.bool))
        self.assertEqual(dataset.element_spec['target'], tf.TensorSpec([4, 4, 4, 1], tf.uint8))
        self.assertEqual(dataset.element_spec['label'], tf.TensorSpec([4], tf.int32))
        for batch in _batches(dataset, 30):
            size = batch['num_support'][0]
            self.assertBetween(size, 2, 5)
            self.assertAllEqual(batch['num_support'], [size] * 4)
            self.assertAllEqual(batch['support_mask'], np.arange(5)[None].repeat(4, 0) < size)
            for b in range(4):
                label, target = batch['label'][b], batch['target'][b]
                real = batch['support'][b, :size]
                self.assertEqual(target[0, 0, 0], label + 1)
                self.assertAllEqual(real[:, 0, 0, 0], [label + 1] * size)
                indices = list(real[:, 0, 1, 0])
                self.assertLen(set(indices), size)  # distinct support images
                self.assertNotIn(target[0, 1, 0], indices)  # the target is not one of them
                padding = batch['support'][b, size:]
                self.assertAllEqual(padding, np.zeros_like(padding))

    def test_other_support_is_another_class_of_the_same_group(self):
        # Groups a: classes 0, 1, 2; b: 3, 4; c: 5 alone (its other support is any other class).
        arrays = _classes(num_classes=6)
        names = ['a/x', 'a/y', 'b/x', 'a/z', 'b/y', 'c/x']
        groups = ['a', 'a', 'b', 'a', 'b', 'c']
        arrays = dict(zip(names, arrays.values(), strict=True))
        plain = episodic.make_episodes(arrays, batch_size=8, k_min=1, k_max=4, seed=3)
        dataset = episodic.make_episodes(
            arrays, batch_size=8, k_min=1, k_max=4, seed=3, other_support=True
        )
        others_seen = collections.defaultdict(set)
        for batch, without in zip(_batches(dataset, 40), _batches(plain, 40), strict=True):
            for key, value in without.items():  # The episodes are the same as without.
                self.assertAllEqual(batch[key], value)
            size = batch['num_support'][0]
            for b in range(8):
                label, other = batch['label'][b], batch['other_support'][b]
                classes = set(other[:size, 0, 0, 0] - 1)
                self.assertLen(classes, 1)
                (other_class,) = classes
                self.assertNotEqual(other_class, label)
                if groups[label] != 'c':
                    self.assertEqual(groups[other_class], groups[label])
                self.assertLen(set(other[:size, 0, 1, 0]), size)  # distinct images
                self.assertAllEqual(other[size:], np.zeros_like(other[size:]))
                others_seen[int(label)].add(int(other_class))
        self.assertEqual(others_seen[0], {1, 3})
        self.assertEqual(others_seen[5], {0, 1, 2, 3, 4})

    def test_other_classes(self):
        others, counts = episodic.other_classes(['a/x', 'b/x', 'a/y', 'plain'])
        self.assertAllEqual(counts, [1, 3, 1, 3])
        self.assertAllEqual(others[0, :1], [2])
        self.assertAllEqual(others[1], [0, 2, 3])
        self.assertEqual(
            episodic.group_of('images_evaluation/Angelic/character01'), 'images_evaluation/Angelic'
        )
        self.assertEqual(episodic.group_of('Angelic/character01'), 'Angelic')
        with self.assertRaisesRegex(ValueError, 'another class needs at least 2 classes'):
            episodic.other_classes(['a/x'])

    def test_set_size_and_class_cover_their_ranges(self):
        dataset = episodic.make_episodes(_classes(), batch_size=2, k_min=1, k_max=4, seed=1)
        batches = _batches(dataset, 200)
        sizes = collections.Counter(int(b['num_support'][0]) for b in batches)
        self.assertEqual(set(sizes), {1, 2, 3, 4})
        self.assertGreater(min(sizes.values()), 25)  # about 50 each
        self.assertEqual({int(label) for b in batches for label in b['label']}, set(range(5)))

    def test_same_seed_same_stream_other_seed_other_stream(self):
        def stream(seed):
            dataset = episodic.make_episodes(
                _classes(), batch_size=3, k_min=1, k_max=3, seed=seed, num_batches=6
            )
            return list(dataset.as_numpy_iterator())

        first, again, other = stream(4), stream(4), stream(5)
        self.assertLen(first, 6)
        for a, b in zip(first, again):
            for key in a:
                self.assertAllEqual(a[key], b[key])
        self.assertFalse(
            all(np.array_equal(a['target'], b['target']) for a, b in zip(first, other))
        )

    def test_first_batch_continues_the_stream(self):
        def stream(count, **kwargs):
            dataset = episodic.make_episodes(_classes(), 3, 1, 3, seed=2, **kwargs)
            return _batches(dataset, count)

        whole = stream(5, num_batches=5)
        for resumed in (stream(5, num_batches=2, first_batch=3), stream(2, first_batch=3)):
            self.assertLen(resumed, 2)
            for a, b in zip(resumed, whole[3:]):
                for key in a:
                    self.assertAllEqual(a[key], b[key])
        with self.assertRaisesRegex(ValueError, 'first_batch must be an integer >= 0'):
            episodic.make_episodes(_classes(), 3, 1, 3, first_batch=-1)

    def test_input_pipelines_draw_disjoint_batches(self):
        def pipeline(index):
            context = tf.distribute.InputContext(
                num_input_pipelines=2, input_pipeline_id=index, num_replicas_in_sync=2
            )
            dataset = episodic.make_episodes(
                _classes(20, 12), 8, 1, 3, seed=0, num_batches=4, input_context=context
            )
            return list(dataset.as_numpy_iterator())

        first, second = pipeline(0), pipeline(1)
        self.assertEqual(first[0]['target'].shape[0], 4)  # per-replica batch size
        for a, b in zip(first, second):
            self.assertFalse(np.array_equal(a['target'], b['target']))

    def test_bad_arguments_raise_clear_value_errors(self):
        classes = _classes()
        with self.assertRaisesRegex(ValueError, r"'class0' has 8 images.*at least 9"):
            episodic.make_episodes(classes, 2, 1, 8)
        with self.assertRaisesRegex(ValueError, r'k_max \(1\) must be >= k_min \(2\)'):
            episodic.make_episodes(classes, 2, 2, 1)
        with self.assertRaisesRegex(ValueError, 'k_min must be an integer >= 1'):
            episodic.make_episodes(classes, 2, 0, 3)
        with self.assertRaisesRegex(ValueError, 'batch_size must be an integer >= 1'):
            episodic.make_episodes(classes, True, 1, 3)
        # NumPy integers are integers (e.g. sizes read from an array).
        dataset = episodic.make_episodes(classes, np.int64(2), np.int32(1), np.int64(3))
        self.assertEqual(_batches(dataset, 1)[0]['support'].shape, (2, 3, 4, 4, 1))
        with self.assertRaisesRegex(ValueError, 'holds no classes'):
            episodic.make_episodes({}, 2, 1, 3)
        with self.assertRaisesRegex(ValueError, 'expected uint8 images'):
            episodic.make_episodes({'a': np.zeros((5, 4, 4, 1), np.float32)}, 2, 1, 3)
        mixed = dict(classes, odd=np.zeros((8, 8, 8, 1), np.uint8))
        with self.assertRaisesRegex(ValueError, "class 'odd' has images of shape"):
            episodic.make_episodes(mixed, 2, 1, 3)

    def test_real_omniglot_episodes(self):
        if not os.path.isfile(OMNIGLOT):
            self.skipTest(f'{OMNIGLOT} is not here')
        with np.load(OMNIGLOT) as npz:
            keys = sorted(npz.files)[:60]
            # Stored with 0 = stroke: invert so that ink is 255.
            classes = {k: 255 - npz[k].reshape(-1, 28, 28, 1) for k in keys}
        dataset = episodic.make_episodes(classes, batch_size=4, k_min=1, k_max=19, seed=0)
        arrays = list(classes.values())
        for batch in _batches(dataset, 5):
            size = batch['num_support'][0]
            self.assertBetween(size, 1, 19)
            self.assertEqual(batch['support'].shape, (4, 19, 28, 28, 1))
            for b in range(4):
                drawings = arrays[batch['label'][b]].reshape(20, -1)

                support = {self._index_in(drawings, image) for image in batch['support'][b, :size]}
                self.assertLen(support, size)
                self.assertNotIn(self._index_in(drawings, batch['target'][b]), support)
            # Ink is the minority: mostly background (0).
            self.assertLess(np.mean(batch['target'] > 127), 0.5)


if __name__ == '__main__':
    tf.test.main()
