"""Channel permutations: the bijector laws, the reverse order, the shuffle's persistence."""

import tensorflow as tf

from tests.tfp_flows.bijectors import laws
from tfp_flows.bijectors import ChannelPermutation


def _reverse(channels, dtype):
    del dtype
    return ChannelPermutation(channels, kind='reverse')


def _shuffle(channels, dtype):
    del dtype
    return ChannelPermutation(channels, kind='shuffle', seed=3)


class ChannelPermutationLawsTest(
    laws.laws_test_case((('reverse', _reverse, {}), ('shuffle', _shuffle, {})))
):
    pass


class PermutationTest(tf.test.TestCase):
    def test_reverse(self):
        x = tf.reshape(tf.range(4.0), [1, 1, 1, 4])
        self.assertAllEqual(ChannelPermutation(4, 'reverse').forward(x), [[[[3.0, 2.0, 1.0, 0.0]]]])

    def test_shuffle_is_saved_and_restored(self):
        saved = ChannelPermutation(8, 'shuffle', seed=1)
        path = tf.train.Checkpoint(p=saved).save(self.get_temp_dir() + '/ckpt')
        other = ChannelPermutation(8, 'shuffle', seed=2)
        self.assertNotAllEqual(other.permutation, saved.permutation)
        tf.train.Checkpoint(p=other).restore(path).assert_consumed()
        self.assertAllEqual(other.permutation, saved.permutation)

    def test_unknown_kind(self):
        with self.assertRaisesRegex(ValueError, "kind must be one of \\('reverse', 'shuffle'\\)"):
            ChannelPermutation(4, 'random')


if __name__ == '__main__':
    tf.test.main()
