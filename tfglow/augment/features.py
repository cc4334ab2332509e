"""A fixed feature extractor for few-shot classification: a small CNN trained on base classes.

```none
x = images / 255                                     [B, H, W, C]
3 x (conv 3x3 SAME + ReLU + max-pool 2x2)            width, 2 width, 2 width channels
features = ReLU(dense(flatten))                      [B, feature_dim]   what `embed` returns,
logits = dense(features)                             [B, classes]       L2-normalised
```

Trained with softmax cross-entropy over the base classes (e.g. the 964 Omniglot background
characters) with random shifts of up to `max_shift` pixels, then frozen: few-shot episodes of new
classes are classified by nearest centroid in its feature space (`tfglow.augment.evaluate`). A
plain `tf.Module` of `tf.Variable`s (see the house style); Keras supplies only the optimizer.
`load_or_train` caches the trained weights and their settings in a directory, and retrains only
when the settings or the base classes differ.
"""

import dataclasses
import json
import math
import os
import time
from collections.abc import Mapping

import keras
import numpy as np
import tensorflow as tf
from absl import logging

__all__ = ['FeatureExtractor', 'FeatureOptions', 'load_or_train', 'train_feature_extractor']

_CACHE_FILE = 'features.json'
_CHECKPOINT_PREFIX = 'features'


@dataclasses.dataclass(frozen=True)
class FeatureOptions:
    """Architecture and training of the feature extractor.

    Attributes:
      width: channels of the first convolution (then 2x). Default value: 32.
      feature_dim: feature size. Default value: 128.
      epochs: passes over the base images. Default value: 8.
      batch_size: Default value: 64.
      learning_rate: Adam's. Default value: 1e-3.
      max_shift: random translation in pixels during training. Default value: 2.
      seed: initial weights and data order. Default value: 0.
    """

    width: int = 32
    feature_dim: int = 128
    epochs: int = 8
    batch_size: int = 64
    learning_rate: float = 1e-3
    max_shift: int = 2
    seed: int = 0


class FeatureExtractor(tf.Module):
    """The CNN (see the module docstring).

    Args:
      image_shape: `(H, W, C)`.
      num_classes: base classes of the training head.
      width: channels of the first convolution.
      feature_dim: feature size.
      seed: initial weights.
    """

    def __init__(
        self,
        image_shape,
        num_classes: int,
        width: int = 32,
        feature_dim: int = 128,
        seed: int = 0,
        name: str = 'feature_extractor',
    ):
        super().__init__(name=name)
        self.image_shape = tuple(int(d) for d in image_shape)
        height, width_px, channels = self.image_shape
        rng = np.random.default_rng(seed)

        def he(shape, fan_in):
            return tf.Variable(
                rng.standard_normal(shape).astype(np.float32) * math.sqrt(2.0 / fan_in)
            )

        widths = [channels, width, 2 * width, 2 * width]
        with self.name_scope:
            self.kernels = [he([3, 3, widths[i], widths[i + 1]], 9 * widths[i]) for i in range(3)]
            self.biases = [tf.Variable(tf.zeros([widths[i + 1]])) for i in range(3)]
            for _ in range(3):
                height, width_px = math.ceil(height / 2), math.ceil(width_px / 2)
            flat = height * width_px * widths[-1]
            self.dense = he([flat, feature_dim], flat)
            self.dense_bias = tf.Variable(tf.zeros([feature_dim]))
            self.head = he([feature_dim, num_classes], feature_dim)
            self.head_bias = tf.Variable(tf.zeros([num_classes]))
        self._embed = tf.function(
            self.normalized_features,
            input_signature=[tf.TensorSpec([None, *self.image_shape], tf.uint8)],
        )

    def features(self, images: tf.Tensor) -> tf.Tensor:
        """uint8 (or float 0..255) `[B, H, W, C]` -> float32 `[B, feature_dim]`."""
        h = tf.cast(images, tf.float32) / 255.0
        for kernel, bias in zip(self.kernels, self.biases, strict=True):
            h = tf.nn.relu(tf.nn.conv2d(h, kernel, 1, 'SAME') + bias)
            h = tf.nn.max_pool2d(h, 2, 2, 'SAME')
        h = tf.reshape(h, [tf.shape(h)[0], -1])
        return tf.nn.relu(h @ self.dense + self.dense_bias)

    def logits(self, images: tf.Tensor) -> tf.Tensor:
        return self.features(images) @ self.head + self.head_bias

    def normalized_features(self, images: tf.Tensor) -> tf.Tensor:
        return tf.math.l2_normalize(self.features(images), axis=1)

    def embed(self, images: np.ndarray, batch_size: int = 512) -> np.ndarray:
        """uint8 `[N, H, W, C]` -> L2-normalised float32 features `[N, feature_dim]`."""
        images = np.asarray(images)
        if images.dtype != np.uint8 or images.shape[1:] != self.image_shape:
            shape = ', '.join(map(str, self.image_shape))
            raise ValueError(
                f'the feature extractor embeds uint8 images [N, {shape}]; got {images.dtype} '
                f'{images.shape}.'
            )
        parts = [
            self._embed(tf.constant(images[i : i + batch_size])).numpy()
            for i in range(0, len(images), batch_size)
        ]
        return np.concatenate(parts) if parts else np.zeros([0, self.dense.shape[1]], np.float32)


def _stack(class_arrays: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    images, labels = [], []
    for label, array in enumerate(class_arrays.values()):
        images.append(np.asarray(array, np.uint8))
        labels.append(np.full(len(array), label, np.int32))
    return np.concatenate(images), np.concatenate(labels)


def train_feature_extractor(
    class_arrays: Mapping[str, np.ndarray], options: FeatureOptions = FeatureOptions()
) -> tuple[FeatureExtractor, dict]:
    """Trains a `FeatureExtractor` on `{class: uint8 [n, H, W, C]}` with softmax over classes.

    Returns:
      The extractor and facts about the training (`train_accuracy` of the last epoch, seconds).
    """
    if len(class_arrays) < 2:
        raise ValueError('the feature extractor needs at least 2 base classes.')
    images, labels = _stack(class_arrays)
    extractor = FeatureExtractor(
        images.shape[1:], len(class_arrays), options.width, options.feature_dim, options.seed
    )
    optimizer = keras.optimizers.Adam(learning_rate=options.learning_rate)
    variables = extractor.trainable_variables
    shift = int(options.max_shift)
    height, width = images.shape[1:3]

    @tf.function(reduce_retracing=True)
    def step(batch, batch_labels, seed):
        if shift:
            padded = tf.pad(batch, [[0, 0], [shift, shift], [shift, shift], [0, 0]])
            offsets = tf.random.stateless_uniform([2], seed, 0, 2 * shift + 1, tf.int32)
            batch = tf.slice(padded, [0, offsets[0], offsets[1], 0], [-1, height, width, -1])
        with tf.GradientTape() as tape:
            logits = extractor.logits(batch)
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(batch_labels, logits)
            )
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        correct = tf.reduce_sum(tf.cast(tf.argmax(logits, 1, tf.int32) == batch_labels, tf.int32))
        return loss, correct

    rng = np.random.default_rng([options.seed, 1])
    start = time.monotonic()
    accuracy = 0.0
    for epoch in range(options.epochs):
        order = rng.permutation(len(images))
        correct, losses = 0, []
        for i in range(0, len(order), options.batch_size):
            rows = order[i : i + options.batch_size]
            loss, hits = step(
                tf.constant(images[rows]),
                tf.constant(labels[rows]),
                tf.constant([options.seed, epoch * len(order) + i], tf.int64),
            )
            correct += int(hits)
            losses.append(float(loss))
        accuracy = correct / len(order)
        logging.info(
            'feature extractor: epoch %d/%d, loss %.3f, train accuracy %.1f%%, %.0f s',
            epoch + 1,
            options.epochs,
            np.mean(losses),
            100 * accuracy,
            time.monotonic() - start,
        )
    facts = {
        'train_accuracy': accuracy,
        'seconds': time.monotonic() - start,
        'num_classes': len(class_arrays),
        'num_images': len(images),
    }
    return extractor, facts


def _fingerprint(class_arrays: Mapping[str, np.ndarray]) -> str:
    """A cheap identity of the base set: classes, sizes and a checksum of the pixels."""
    images, _ = _stack(class_arrays)
    checksum = int(np.sum(images[:: max(1, len(images) // 997)].astype(np.int64)))
    return f'{len(class_arrays)}:{len(images)}:{checksum}'


def load_or_train(
    directory: str,
    class_arrays: Mapping[str, np.ndarray],
    options: FeatureOptions = FeatureOptions(),
) -> tuple[FeatureExtractor, dict]:
    """The extractor cached in `directory` for these options and classes, else a new one (saved).

    Returns:
      The extractor and its facts (see `train_feature_extractor`), plus 'cached': bool.
    """
    settings = {**dataclasses.asdict(options), 'base': _fingerprint(class_arrays)}
    meta_path = os.path.join(directory, _CACHE_FILE)
    prefix = os.path.join(directory, _CHECKPOINT_PREFIX)
    image_shape = np.asarray(next(iter(class_arrays.values()))).shape[1:]
    if tf.io.gfile.exists(meta_path):
        with tf.io.gfile.GFile(meta_path) as f:
            cached = json.load(f)
        if cached.get('settings') == settings:
            extractor = FeatureExtractor(
                image_shape, len(class_arrays), options.width, options.feature_dim, options.seed
            )
            tf.train.Checkpoint(model=extractor).read(prefix).assert_existing_objects_matched()
            logging.info('Feature extractor read from %s.', directory)
            return extractor, {**cached['facts'], 'cached': True}
        logging.info(
            'The cached feature extractor in %s has other settings: retraining.', directory
        )
    extractor, facts = train_feature_extractor(class_arrays, options)
    tf.io.gfile.makedirs(directory)
    tf.train.Checkpoint(model=extractor).write(prefix)
    with tf.io.gfile.GFile(meta_path, 'w') as f:
        json.dump({'settings': settings, 'facts': facts}, f, indent=2)
    return extractor, {**facts, 'cached': False}
