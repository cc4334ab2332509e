r"""Image header sniffing: tfglow's `image_header` against Pillow, both checked by TF's decoder.

  python bench/image_header.py

Writes a folder of 399 files (369 good images: grey and colour PNG, JPEG, BMP, GIF and their
variants; 30 cut, damaged or unsupported ones), then per method the time per file (best of 5
passes over the folder, files in the page cache) and the files where its verdict (shape and
decoded channels, or an error) differs from `tf.io.decode_image`, which the loaders use. Methods:
`image_header.read`; Pillow's lazy `Image.open` + `verify()`; Pillow's `Image.open` + `load()`
(a full decode); `tf.io.decode_image` itself.
"""

import io
import os
import tempfile
import time

import numpy as np
import tensorflow as tf
from PIL import Image

from tfglow.data import image_header

# Pillow mode -> channels as the loaders decode them (alpha dropped, palette expanded to RGB).
_PIL_CHANNELS = {'1': 1, 'L': 1, 'LA': 1, 'I': 1, 'I;16': 1, 'P': 3, 'PA': 3, 'RGB': 3, 'RGBA': 3}
# TF's decoded channels -> the same convention.
_TF_CHANNELS = {1: 1, 2: 1, 3: 3, 4: 3}
_PASSES = 5


def _encode(array: np.ndarray, image_format: str, mode: str | None = None, **options) -> bytes:
    image = Image.fromarray(array)
    buffer = io.BytesIO()
    (image.convert(mode) if mode else image).save(buffer, image_format, **options)
    return buffer.getvalue()


def _files(rng: np.random.Generator) -> dict[str, bytes]:
    """File name -> content; names of bad files start with 'bad_'."""

    def noise(*shape: int) -> np.ndarray:
        return rng.integers(0, 256, shape, dtype=np.uint8)

    files = {}
    for i in range(120):  # Omniglot-like
        files[f'grey{i:03d}.png'] = _encode(noise(105, 105), 'PNG')
    for i in range(80):
        files[f'rgb{i:03d}.png'] = _encode(noise(64, 64, 3), 'PNG')
        files[f'rgb{i:03d}.jpg'] = _encode(noise(64, 64, 3), 'JPEG')
    for i in range(40):
        files[f'rgb{i:03d}.bmp'] = _encode(noise(64, 64, 3), 'BMP')
        files[f'rgb{i:03d}.gif'] = _encode(noise(64, 64, 3), 'GIF')
    rgb = noise(32, 32, 3)
    files.update(
        {
            'grey_alpha.png': _encode(noise(8, 8, 2), 'PNG'),
            'rgba.png': _encode(noise(8, 8, 4), 'PNG'),
            'palette.png': _encode(rgb, 'PNG', 'P'),
            'one_bit.png': _encode(rgb[..., 0], 'PNG', '1'),
            '16_bit.png': tf.io.encode_png(
                rng.integers(0, 2**16, (8, 8, 1), dtype=np.uint16)
            ).numpy(),
            'grey.jpg': _encode(rgb[..., 0], 'JPEG'),
            'progressive.jpg': _encode(rgb, 'JPEG', progressive=True),
            'rgba.bmp': _encode(noise(8, 8, 4), 'BMP'),
            'one_pixel.gif': _encode(rgb[:1, :1], 'GIF'),
        }
    )
    for ext, image_format in (('png', 'PNG'), ('jpg', 'JPEG'), ('bmp', 'BMP'), ('gif', 'GIF')):
        content = _encode(rgb, image_format)
        for name, end in (('cut25', 0.25), ('cut50', 0.5), ('cut90', 0.9)):
            files[f'bad_{ext}_{name}.{ext}'] = content[: int(len(content) * end)]
        files[f'bad_{ext}_minus1.{ext}'] = content[:-1]
        files[f'bad_{ext}_minus5.{ext}'] = content[:-5]
        files[f'bad_{ext}_header_only.{ext}'] = content[:20]
        if ext in ('png', 'jpg'):
            broken = bytearray(content)
            broken[len(broken) // 2 : len(broken) // 2 + 16] = b'\x55' * 16
            files[f'bad_{ext}_pixels_broken.{ext}'] = bytes(broken)
    files['bad_cmyk.jpg'] = _encode(rgb, 'JPEG', 'CMYK')
    files['bad_palette.bmp'] = _encode(rgb, 'BMP', 'P')
    files['bad_not_an_image.png'] = b'hello world, not an image'
    files['bad_empty.png'] = b''
    return files


def _tfglow(path: str) -> tuple[int, int, int]:
    return tuple(image_header.read(path))


def _pillow_verify(path: str) -> tuple[int, int, int]:
    with Image.open(path) as image:
        shape = (image.height, image.width, _PIL_CHANNELS[image.mode])
        image.verify()
    return shape


def _pillow_load(path: str) -> tuple[int, int, int]:
    with Image.open(path) as image:
        shape = (image.height, image.width, _PIL_CHANNELS[image.mode])
        image.load()
    return shape


def _tf_decode(path: str) -> tuple[int, int, int]:
    height, width, channels = tf.io.decode_image(
        tf.io.read_file(path), expand_animations=False
    ).shape
    return (height, width, _TF_CHANNELS[channels])


def _verdict(method, path: str) -> tuple[int, int, int] | str:
    try:
        return method(path)
    except Exception as e:  # every failure is a verdict here, whatever its type
        return type(e).__name__


def main() -> None:
    methods = {
        'tfglow image_header': _tfglow,
        'Pillow open + verify': _pillow_verify,
        'Pillow open + load': _pillow_load,
        'tf.io.decode_image': _tf_decode,
    }
    with tempfile.TemporaryDirectory() as root:
        paths = []
        for name, content in _files(np.random.default_rng(0)).items():
            paths.append(os.path.join(root, name))
            with open(paths[-1], 'wb') as f:
                f.write(content)
        cut = [p for p in paths if any(w in p for w in ('_cut', '_minus', '_header_only'))]
        verdicts, seconds = {}, {}
        for name, method in methods.items():
            verdicts[name] = {p: _verdict(method, p) for p in paths}  # also warms the cache
            passes = []
            for _ in range(_PASSES):
                start = time.perf_counter()
                for p in paths:
                    _verdict(method, p)
                passes.append(time.perf_counter() - start)
            seconds[name] = min(passes) / len(paths)
        truth = verdicts['tf.io.decode_image']
        print(f'{len(paths)} files, {len(cut)} of them cut short.\n')
        print('| method | µs per file | agrees with TF | cut files rejected |')
        print('|---|---|---|---|')
        for name in methods:
            agree = sum(
                verdicts[name][p] == truth[p] or _both_errors(verdicts[name][p], truth[p])
                for p in paths
            )
            rejected = sum(isinstance(verdicts[name][p], str) for p in cut)
            print(
                f'| {name} | {1e6 * seconds[name]:.1f} | {agree}/{len(paths)} | '
                f'{rejected}/{len(cut)} |'
            )
        for name in list(methods)[:-1]:
            print(f'\n{name} differs from tf.io.decode_image on:')
            for p in paths:
                mine, theirs = verdicts[name][p], truth[p]
                if not (mine == theirs or _both_errors(mine, theirs)):
                    print(f'  {os.path.basename(p)}: {mine} | TF: {theirs}')


def _both_errors(a, b) -> bool:
    return isinstance(a, str) and isinstance(b, str)


if __name__ == '__main__':
    main()
