"""Tiny image files, idx files and configs for the data tests."""

import gzip
import os
import struct

import ml_collections
import numpy as np
import tensorflow as tf

FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist'
OMNIGLOT_DIR = '/work/shared/data/omniglot'
# A 1x1 GIF89a (one black pixel); TF has no GIF encoder.
GIF_1X1 = (
    b'GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00'
    b',\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;'
)


def data_config(**overrides) -> ml_collections.ConfigDict:
    """`config.data` as in contracts.md, with `overrides`."""
    config = ml_collections.ConfigDict(
        {
            'source': 'idx',
            'name': 'fashion_mnist',
            'path': '',
            'image_size': 0,
            'train_split': 'train',
            'eval_split': 'test',
            'shuffle_buffer': 100,
        }
    )
    config.update(overrides)
    return config


def images(n: int, height: int, width: int, channels: int, seed: int = 0) -> np.ndarray:
    """Distinct random uint8 images: pixel [0, 0, 0] of image i is i (n <= 256)."""
    array = np.random.RandomState(seed).randint(0, 256, (n, height, width, channels))
    array[:, 0, 0, 0] = np.arange(n)
    return array.astype(np.uint8)


def write_file(path: str, data: bytes) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(data)
    return path


def png(image: np.ndarray) -> bytes:
    return tf.io.encode_png(image).numpy()


def jpeg(image: np.ndarray) -> bytes:
    return tf.io.encode_jpeg(image).numpy()


def bmp(image: np.ndarray, bits: int = 24) -> bytes:
    """An uncompressed bottom-up BMP of an RGB uint8 [H, W, 3] image (TF has no BMP encoder)."""
    height, width, _ = image.shape
    pixels = image[::-1, :, ::-1]  # bottom-up rows, BGR
    if bits == 32:
        pixels = np.concatenate([pixels, np.full((height, width, 1), 255, np.uint8)], axis=-1)
    row = pixels.reshape(height, -1)
    padding = (-row.shape[1]) % 4
    data = np.pad(row, ((0, 0), (0, padding))).tobytes()
    info = struct.pack('<iiiHHIIiiII', 40, width, height, 1, bits, 0, len(data), 2835, 2835, 0, 0)
    return b'BM' + struct.pack('<IHHI', 54 + len(data), 0, 0, 54) + info + data


def write_pngs(directory: str, array: np.ndarray, prefix: str = 'img') -> list[str]:
    return [
        write_file(os.path.join(directory, f'{prefix}{i:03d}.png'), png(image))
        for i, image in enumerate(array)
    ]


def write_idx(directory: str, prefix: str, images_: np.ndarray, labels: np.ndarray, gz: bool):
    """Writes `<prefix>-images-idx3-ubyte` and `<prefix>-labels-idx1-ubyte` (`.gz` when gz)."""
    opener, ext = (gzip.open, '.gz') if gz else (open, '')
    os.makedirs(directory, exist_ok=True)
    with opener(os.path.join(directory, f'{prefix}-images-idx3-ubyte{ext}'), 'wb') as f:
        f.write(b'\0\0\x08\x03' + struct.pack('>III', *images_.shape) + images_.tobytes())
    with opener(os.path.join(directory, f'{prefix}-labels-idx1-ubyte{ext}'), 'wb') as f:
        f.write(
            b'\0\0\x08\x01' + struct.pack('>I', len(labels)) + labels.astype(np.uint8).tobytes()
        )


def batches(dataset: tf.data.Dataset, count: int | None = None) -> list[dict[str, np.ndarray]]:
    if count is not None:
        dataset = dataset.take(count)
    return list(dataset.as_numpy_iterator())


def concat(batch_list: list[dict[str, np.ndarray]], key: str) -> np.ndarray:
    return np.concatenate([b[key] for b in batch_list])
