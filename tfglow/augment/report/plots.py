"""The report's figures: hypothesis 1 and 2 plots, and the grid of augmented examples."""

import os
from collections.abc import Mapping

import numpy as np
import tensorflow as tf

from tfglow import images as image_files
from tfglow.augment.latent import ClassLatents, LatentCodec
from tfglow.augment.methods import AugmentOptions, BaseStatistics, augment_latents

__all__ = ['plot_estimation', 'plot_normality', 'write_examples']


def _pyplot():
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str) -> None:
    """Writes `fig` to `path` and closes it (pyplot would otherwise keep every figure alive)."""
    fig.tight_layout()
    tf.io.gfile.makedirs(os.path.dirname(path))
    fig.savefig(path, dpi=90)
    _pyplot().close(fig)


def plot_normality(h1: dict, path: str) -> None:
    """Hypothesis 1: KS excess, A^2 excess per pooled image, kurtosis and rejection vs pool."""
    plt = _pyplot()
    rows = h1['rows']
    labels = [str(r['pool']) for r in rows]
    x = np.arange(len(rows))
    panels = (
        ('KS statistic − null median', 'ks', 'excess'),
        ('(A² − null median) / images', 'ad', 'excess'),
        ('excess kurtosis − null median', 'kurtosis', 'excess'),
        ('share rejected by A² at 5%', 'ad', 'rejection_rate'),
    )
    fig, axes = plt.subplots(1, 4, figsize=(18, 4))
    for ax, (title, statistic, field) in zip(axes, panels, strict=True):
        for space in h1['spaces']:
            ys = [r[space][statistic][field] for r in rows]
            if title.startswith('(A²'):
                ys = [y / r['mean_rows'] for y, r in zip(ys, rows, strict=True)]
            ax.plot(x, ys, marker='o', label=space)
        ax.set_xticks(x, labels)
        ax.set_xlabel('classes pooled (P)')
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[-1].axhline(0.05, color='grey', linestyle='--', label='null (5%)')
    axes[0].legend()
    axes[-1].legend()
    _save(fig, path)


def plot_estimation(h2: dict, path: str) -> None:
    """Hypothesis 2: relative error vs K, one panel per quantity, one line per estimator."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(18, 4.5))
    for ax, (quantity, by_estimator) in zip(axes, h2['errors'].items(), strict=True):
        for estimator, values in by_estimator.items():
            style = '-' if estimator == 'alone' or estimator.startswith('alone+') else ':'
            ax.errorbar(
                h2['ks'],
                values['mean'],
                yerr=values['stderr'],
                marker='o',
                markersize=3,
                linestyle=style,
                label=estimator,
            )
        ax.set_xlabel('K (shots)')
        ax.set_ylabel('relative error')
        ax.set_title(f'{quantity} estimate')
        ax.set_yscale('log')
        ax.grid(alpha=0.3, which='both')
    axes[0].legend(fontsize=8)
    _save(fig, path)


def write_examples(
    path: str,
    codec: LatentCodec,
    targets: ClassLatents,
    class_arrays: Mapping[str, np.ndarray],
    base: BaseStatistics,
    methods: Mapping[str, AugmentOptions],
    *,
    num_classes: int = 4,
    shots: int = 5,
    per_row: int = 8,
    seed: int = 0,
) -> list[str]:
    """Writes a PNG: per class, one row per method, `shots` support images then `per_row` augmented.

    Each row is labelled `<class>: <method>`; a grey cell separates the support images from the
    augmented ones.

    Returns:
      The row labels, top to bottom.
    """
    rng = np.random.default_rng([seed, 5])
    classes = np.sort(rng.choice(targets.num_classes, min(num_classes, targets.num_classes), False))
    shape = codec.image_shape
    rows, labels = [], []
    for c in classes:
        images = np.asarray(class_arrays[targets.names[c]])
        k = min(shots, len(images))
        pick = rng.choice(len(images), k, replace=False)
        for index, (name, method) in enumerate(methods.items()):
            z = augment_latents(targets.of(c)[pick], base, per_row, method, seed=[seed, index, c])
            row = np.zeros([shots + 1 + per_row, *shape], np.uint8)
            row[:k] = images[pick]
            row[shots] = 128  # A grey cell between the support and the augmented images.
            row[shots + 1 :] = codec.decode(z)
            rows.append(row)
            labels.append(f'{targets.names[c]}: {name}')
    image_files.write_labelled_grid(
        path,
        rows,
        labels,
        f'Each row: {shots} support images | grey | {per_row} augmented by the named method',
    )
    return labels
