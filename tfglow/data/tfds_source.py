"""tensorflow-datasets by name (`config.data.name`), with `config.data.path` as tfds' data_dir.

Every dataset's 'image' feature is the image. The label is its 'label' feature when that is a
ClassLabel, else 0 with one class: cifar10, mnist, fashion_mnist use 'label'; omniglot uses 'label'
(the character; its 'alphabet' is left out); celeb_a, downsampled_imagenet/*, lsun/* have no label.
Names may carry a config (`lsun/bedroom`, `downsampled_imagenet/32x32`) and splits may be tfds
slices (`train[:90%]`). A dataset not yet prepared is downloaded and prepared first, as `tfds.load`
does, after checking within seconds that its download servers can be reached (offline, tfds would
retry for minutes before failing).
"""

import difflib
import socket
import urllib.parse
import urllib.request
from collections.abc import Mapping

import ml_collections
import tensorflow as tf

from tfglow import extras
from tfglow.data import common

tfds = extras.require('tensorflow_datasets', "config.data.source 'tfds'")

# Seconds to wait for each download server before calling the dataset not downloadable.
_PROBE_TIMEOUT_S = 5.0


def get_info(config: ml_collections.ConfigDict, split: str) -> common.DataInfo:
    """DataInfo from the tfds builder's metadata."""
    del split  # every split shares the classes
    builder = _builder(config)
    _, label_key = feature_keys(config.name, builder.info.features)
    label = builder.info.features[label_key] if label_key else None
    return common.DataInfo(
        image_shape=_image_shape(config, builder),
        num_classes=label.num_classes if label else 1,
        split_sizes={name: s.num_examples for name, s in builder.info.splits.items()},
        class_names=list(label.names) if label else None,
    )


def load(config: ml_collections.ConfigDict, split: str) -> common.Stream:
    """A stream over one split; cached in memory after decoding when small."""
    builder = _builder(config)
    image_key, label_key = feature_keys(config.name, builder.info.features)
    shape = _image_shape(config, builder)
    num_examples = None
    # Mocked builders (tfds.testing.mock_data) have no split metadata: accept any split there.
    if builder.info.splits:
        for part in split.split('+'):  # e.g. 'train[:90%]+validation'
            common.check_split(
                part.split('[')[0], list(builder.info.splits), f'tfds {config.name!r}'
            )
        num_examples = builder.info.splits[split].num_examples
        if not num_examples:
            raise ValueError(f'split {split!r} of tfds {config.name!r} is empty')
    cache = common.fits_in_memory(num_examples, shape)

    def build(shard: common.Shard, training: bool, seed: int) -> tf.data.Dataset:
        # even_splits gives each worker a disjoint slice whatever the number of files.
        part = split if shard.count == 1 else tfds.even_splits(split, shard.count)[shard.index]
        dataset = builder.as_dataset(
            split=part,
            # A cached dataset keeps its first order, so shuffle files only when streaming.
            shuffle_files=training and not cache,
            read_config=tfds.ReadConfig(shuffle_seed=seed),
        )
        dataset = dataset.map(
            lambda example: _to_image_label(
                example, image_key, label_key, config.image_size, shape
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        if cache:
            dataset = dataset.cache()
        return common.shuffle_and_repeat(dataset, training, config.shuffle_buffer, seed)

    return common.Stream(build)


def feature_keys(
    name: str, features: Mapping[str, tfds.features.FeatureConnector]
) -> tuple[str, str | None]:
    """(image key, label key or None) of a tfds dataset's features."""
    if 'image' not in features:
        raise ValueError(
            f'tfds dataset {name!r} has no "image" feature (it has {", ".join(features.keys())})'
        )
    label = features['label'] if 'label' in features else None
    return 'image', 'label' if isinstance(label, tfds.features.ClassLabel) else None


def example_to_pair(
    example: dict[str, tf.Tensor], image_key: str, label_key: str | None
) -> dict[str, tf.Tensor]:
    """A tfds example -> `{'image': uint8 [H, W, C], 'label': int32 []}` (0 without a label)."""
    if label_key:
        label = tf.cast(example[label_key], tf.int32)
    else:
        label = tf.constant(0, tf.int32)
    return {'image': example[image_key], 'label': label}


def _to_image_label(
    example: dict[str, tf.Tensor],
    image_key: str,
    label_key: str | None,
    image_size: int,
    shape: tuple[int, int, int],
) -> dict[str, tf.Tensor]:
    pair = example_to_pair(example, image_key, label_key)
    pair['image'] = common.fit_image(pair['image'], image_size, shape)
    return pair


def _builder(config: ml_collections.ConfigDict) -> tfds.core.DatasetBuilder:
    name = config.name
    try:
        builder = tfds.builder(name, data_dir=config.path or None)
    except tfds.core.registered.DatasetNotFoundError:
        close = difflib.get_close_matches(name.split('/')[0], tfds.list_builders(), n=3)
        hint = f'; did you mean {", ".join(close)}?' if close else ''
        raise ValueError(f'unknown tensorflow-datasets name {name!r}{hint}') from None
    if not builder.is_prepared():
        unreachable = _unreachable_download_server(builder)
        if unreachable:
            raise FileNotFoundError(_not_prepared(name, builder, unreachable))
        try:
            builder.download_and_prepare()
        except Exception as e:  # whatever failed (network, checksum, manual step), same advice
            raise FileNotFoundError(
                _not_prepared(name, builder, f'preparing it failed ({type(e).__name__}: {e})')
            ) from None
    return builder


def _not_prepared(name: str, builder: tfds.core.DatasetBuilder, reason: str) -> str:
    return (
        f'tfds dataset {name!r} is not prepared in {builder.data_dir} and {reason}. On a machine '
        f'with internet run `tfds build {name}` and copy its data_dir here (set config.data.path '
        'to it), or use source "idx", "folder" or "tfrecord" for local files'
    )


def _unreachable_download_server(builder: tfds.core.DatasetBuilder) -> str | None:
    """Names the first download server (or its proxy) that cannot be connected to, with the error.

    Without network, tfds retries each download for minutes before it fails; a connection to each
    server, given `_PROBE_TIMEOUT_S`, tells within seconds. None when every server answers or the
    dataset lists no download URLs (then the download itself decides).
    """
    proxies = urllib.request.getproxies()
    servers = set()
    for url in builder.url_infos or ():
        parts = urllib.parse.urlsplit(url)
        proxy = proxies.get(parts.scheme)
        if proxy and not urllib.request.proxy_bypass(parts.hostname):
            parts = urllib.parse.urlsplit(proxy if '//' in proxy else f'//{proxy}')
        default_port = 80 if parts.scheme == 'http' else 443
        servers.add((parts.hostname, parts.port or default_port))
    for host, port in sorted(servers):
        try:
            socket.create_connection((host, port), timeout=_PROBE_TIMEOUT_S).close()
        except OSError as e:
            return f'its download server {host}:{port} cannot be reached ({e})'
    return None


def _image_shape(
    config: ml_collections.ConfigDict, builder: tfds.core.DatasetBuilder
) -> tuple[int, int, int]:
    height, width, channels = builder.info.features['image'].shape
    if channels not in (1, 3):
        raise ValueError(f'tfds {config.name!r} images have {channels} channels; only 1 or 3 work')
    if not config.image_size and None in (height, width):
        raise ValueError(
            f'tfds {config.name!r} images vary in size; set config.data.image_size to resize and '
            'centre-crop them to one size'
        )
    return common.output_shape(height, width, channels, config.image_size)
