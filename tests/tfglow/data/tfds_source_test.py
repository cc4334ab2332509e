"""Tests for tfglow.data.tfds_source, offline: a fake dict dataset and tfds' mock_data."""

import contextlib
import os
import re
from unittest import mock

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from tests.tfglow.data import testdata
from tfglow import data
from tfglow.data import tfds_source

_IMAGE = tfds.features.Image(shape=(4, 4, 3))


@contextlib.contextmanager
def _mock_data(num_examples: int = 6):
    # USE_CODE builds features from the dataset's code: no metadata download. The builder is not
    # prepared, so the download servers are probed before the (mocked, no-op) download.
    with (
        tfds.testing.mock_data(num_examples, policy=tfds.testing.MockPolicy.USE_CODE),
        _server_probe(),
    ):
        yield


class FeatureMappingTest(tf.test.TestCase):
    def test_feature_keys(self):
        labelled = {'image': _IMAGE, 'label': tfds.features.ClassLabel(num_classes=3)}
        self.assertEqual(tfds_source.feature_keys('cifar10', labelled), ('image', 'label'))
        attributes = {'image': _IMAGE, 'attributes': tfds.features.Tensor(shape=(), dtype=np.bool_)}
        self.assertEqual(tfds_source.feature_keys('celeb_a', attributes), ('image', None))
        with self.assertRaisesRegex(ValueError, 'no "image" feature .*it has text'):
            tfds_source.feature_keys('imdb', {'text': tfds.features.Text()})

    def test_example_to_pair_on_a_fake_dataset(self):
        images = np.arange(2 * 4 * 4 * 3, dtype=np.uint8).reshape(2, 4, 4, 3)
        fake = tf.data.Dataset.from_tensor_slices(
            {'image': images, 'label': np.array([2, 1], np.int64), 'id': ['a', 'b']}
        )
        pairs = list(fake.map(lambda e: tfds_source.example_to_pair(e, 'image', 'label')))
        self.assertAllEqual(pairs[1]['image'], images[1])
        self.assertEqual(pairs[1]['label'].dtype, tf.int32)
        self.assertEqual([int(p['label']) for p in pairs], [2, 1])
        unlabelled = list(fake.map(lambda e: tfds_source.example_to_pair(e, 'image', None)))
        self.assertEqual([int(p['label']) for p in unlabelled], [0, 0])


class MockedTfdsTest(tf.test.TestCase):
    def test_mnist(self):
        config = testdata.data_config(source='tfds', name='mnist')
        with _mock_data():
            info = data.get_info(config)
            batch = testdata.batches(data.make_dataset(config, 'train', 4, training=True), 1)[0]
        self.assertEqual((info.image_shape, info.num_classes), ((28, 28, 1), 10))
        self.assertEqual(batch['image'].shape, (4, 28, 28, 1))
        self.assertEqual(batch['image'].dtype, np.uint8)
        self.assertTrue(np.all((batch['label'] >= 0) & (batch['label'] < 10)))

    def test_celeb_a_has_no_label_and_is_resized(self):
        config = testdata.data_config(source='tfds', name='celeb_a', image_size=16)
        with _mock_data():
            info = data.get_info(config)
            batch_list = testdata.batches(data.make_dataset(config, 'test', 4, training=False))
        self.assertEqual((info.image_shape, info.num_classes), ((16, 16, 3), 1))
        self.assertEqual(batch_list[0]['image'].shape, (4, 16, 16, 3))
        self.assertEqual(testdata.concat(batch_list, 'label').tolist(), [0] * 6)

    def test_variable_size_images_need_image_size(self):
        config = testdata.data_config(source='tfds', name='lsun/bedroom')
        with _mock_data(), self.assertRaisesRegex(ValueError, 'vary in size; set .*image_size'):
            data.get_info(config)

    def test_unknown_name(self):
        config = testdata.data_config(source='tfds', name='cifar_10')
        with self.assertRaisesRegex(
            ValueError, "unknown tensorflow-datasets name 'cifar_10'.*cifar10"
        ):
            data.get_info(config)

    def test_missing_dataset(self):
        config = testdata.data_config(source='tfds', name='mnist', path=self.get_temp_dir())
        offline = mock.patch.object(
            tfds.core.DatasetBuilder, 'download_and_prepare', side_effect=ConnectionError('offline')
        )
        with (
            _server_probe(),  # the server answers, the download then fails
            offline,
            self.assertRaisesRegex(
                FileNotFoundError,
                "tfds dataset 'mnist' is not prepared in .*ConnectionError: offline",
            ),
        ):
            data.make_dataset(config, 'train', 4, training=True)

    def test_unreachable_server_fails_fast_without_downloading(self):
        data_dir = self.get_temp_dir()
        config = testdata.data_config(source='tfds', name='mnist', path=data_dir)
        probe = _server_probe(side_effect=OSError('Name or service not known'))
        download = mock.patch.object(tfds.core.DatasetBuilder, 'download_and_prepare')
        with probe as connect, download as download_and_prepare:
            with self.assertRaisesRegex(
                FileNotFoundError,
                f"tfds dataset 'mnist' is not prepared in {re.escape(data_dir)}.* download server "
                r'storage.googleapis.com:443 cannot be reached \(Name or service not known\)\. '
                '.*tfds build mnist.*config.data.path.*source "idx"',
            ):
                data.get_info(config)
        download_and_prepare.assert_not_called()
        connect.assert_called_once_with(('storage.googleapis.com', 443), timeout=mock.ANY)

    def test_probe_goes_through_the_proxy(self):
        config = testdata.data_config(source='tfds', name='mnist', path=self.get_temp_dir())
        proxy = mock.patch.dict(
            os.environ, {'https_proxy': 'http://proxy.local:3128', 'no_proxy': '', 'NO_PROXY': ''}
        )
        probe = _server_probe(side_effect=OSError('refused'))
        with proxy, probe as connect, self.assertRaisesRegex(FileNotFoundError, 'proxy.local:3128'):
            data.get_info(config)
        connect.assert_called_once_with(('proxy.local', 3128), timeout=mock.ANY)


def _server_probe(**kwargs):
    """Replaces the connection to a download server: no test depends on the network."""
    return mock.patch('socket.create_connection', **kwargs)


if __name__ == '__main__':
    tf.test.main()
