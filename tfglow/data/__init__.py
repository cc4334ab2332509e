"""Image data for tfglow: one API over tfds, image folders, TFRecords, idx files and Omniglot npz.

```python
from tfglow import data
info = data.get_info(config.data)   # DataInfo(image_shape, num_classes, split_sizes, class_names)
ds = data.make_dataset(config.data, 'train', 64, training=True, seed=0)
# -> {'image': uint8 [B, H, W, C], 'label': int32 [B]}
per_class = data.load_class_arrays(config.data, 'test')   # {class name: uint8 [n, H, W, C]}
data.write_tfrecords(images, labels, 'out/train.tfrecord')  # convert arrays for source 'tfrecord'
```

`config.data.source` picks the source (details in each module's docstring):
  'tfds'          tensorflow-datasets by `name` (cifar10, mnist, celeb_a, lsun/bedroom, ...);
                  `path` is tfds' data_dir ('' = its default).
  'folder'        a folder of PNG/JPEG/BMP/GIF files, one subfolder per class, optional split
                  subfolders (`path`).
  'tfrecord'      tf.train.Example files with an encoded 'image' and an int64 'label'
                  (`write_tfrecords` converts arrays to them).
  'idx'           MNIST-format idx files; `path` '' with `name` 'fashion_mnist' finds Debian's
                  /usr/share/datasets/fashion-mnist.
  'omniglot_npz'  the Omniglot npz files of ../shared/data/omniglot (ink = 255).

Images come as stored, as uint8; with `image_size` > 0 the shorter side is scaled to it
(bilinear, antialiased) and the centre `image_size x image_size` cropped. Bit-depth reduction and
dequantisation happen later, in the training step. Small splits are held in memory (decoded once);
large ones stream from disk.
"""

from tfglow.data.common import DataInfo, resize_and_center_crop
from tfglow.data.pipeline import SOURCES, get_info, load_class_arrays, make_dataset
from tfglow.data.tfrecord import write_tfrecords

__all__ = [
    'SOURCES',
    'DataInfo',
    'get_info',
    'load_class_arrays',
    'make_dataset',
    'resize_and_center_crop',
    'write_tfrecords',
]
