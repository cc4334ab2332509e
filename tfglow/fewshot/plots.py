"""The evaluator's figures (PNG, drawn by matplotlib's Agg): NLL vs K and accuracy vs K."""

import os

import tensorflow as tf

__all__ = ['plot_accuracy_vs_k', 'plot_nll_vs_k']


def _figure():
    """A figure outside pyplot: no global figure registry to close, and PNGs are drawn by Agg
    whatever the display. Imported on use: only the plots need matplotlib."""
    from matplotlib.figure import Figure

    return Figure(figsize=(6, 4))


def _write(fig, path: str) -> None:
    fig.tight_layout()
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path, 'wb') as f:
        fig.savefig(f, format='png', dpi=90)


def plot_nll_vs_k(sweep: dict, path: str) -> None:
    """The sweep's NLL (± standard error) vs K per estimator, the no-support and baseline NLLs as
    horizontal lines."""
    fig = _figure()
    ax = fig.subplots()
    ks = [row['k'] for row in sweep['conditional']]
    for estimator in sweep['model']['estimators']:
        stats = [row[estimator] for row in sweep['conditional']]
        line = ax.errorbar(
            ks,
            [s['nats_per_image'] for s in stats],
            yerr=[s['stderr'] or 0.0 for s in stats],
            marker='o',
            capsize=3,
            label=f'given K images, {estimator}',
        )
        no_support = sweep['no_support'][estimator]['nats_per_image']
        ax.axhline(
            no_support, color=line[0].get_color(), linestyle='--', label=f'no support, {estimator}'
        )
    if sweep['baseline_no_support'] is not None:
        for estimator, stats in sweep['baseline_no_support'].items():
            ax.axhline(
                stats['nats_per_image'],
                color='grey',
                linestyle=':',
                label=f'baseline {sweep["baseline"]["name"]}, {estimator}',
            )
    ax.set_xscale('log')
    ax.set_xticks(ks, [str(k) for k in ks])
    ax.set_xlabel('support size K')
    ax.set_ylabel('NLL (nats/image)')
    ax.set_title(f'{sweep["model"]["name"]}: {sweep["num_targets"]} held-out targets')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _write(fig, path)


def plot_accuracy_vs_k(results: list[dict], path: str) -> None:
    """Classification accuracy (± 95% interval) vs K, one line per N, episode classes and
    estimator, with chance dotted."""
    fig = _figure()
    ax = fig.subplots()
    lines = {}
    for result in results:
        for estimator, accuracy in result['accuracy'].items():
            key = (result['n_way'], result['episode_classes'], estimator)
            lines.setdefault(key, []).append((result['k_shot'], accuracy, result['chance']))
    for (n_way, classes, estimator), points in sorted(lines.items()):
        points.sort(key=lambda point: point[0])
        ks = [k for k, _, _ in points]
        line = ax.errorbar(
            ks,
            [100 * a['mean'] for _, a, _ in points],
            yerr=[100 * a['ci95'] for _, a, _ in points],
            marker='o',
            capsize=3,
            label=f'{n_way}-way, {classes.replace("_", " ")}, {estimator}',
        )
        ax.axhline(100 * points[0][2], color=line[0].get_color(), linestyle=':', linewidth=0.8)
    all_ks = sorted({result['k_shot'] for result in results})
    ax.set_xticks(all_ks, [str(k) for k in all_ks])
    ax.set_xlabel('shots K')
    ax.set_ylabel('accuracy (%)')
    ax.set_ylim(0, 100)
    ax.set_title('likelihood classification (chance dotted)')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _write(fig, path)
