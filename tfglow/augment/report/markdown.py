"""The report's words: report.md of both report kinds, from the results alone."""

import math

import numpy as np

from tfglow.augment import evaluate

__all__ = ['h1_markdown', 'h2_markdown', 'report_markdown', 'sweep_markdown']


def report_markdown(results: dict) -> str:
    """report.md's text of the results of `run_report` or (mode 'hypotheses') its sibling."""
    if results.get('mode') == 'hypotheses':
        return _hypotheses_report(results)
    return _full_report(results)


def _model_sentence(model: dict) -> str:
    return (
        f'Model: {model["name"]} ({model["type"]}), checkpoint {model["checkpoint"] or "n/a"} '
        f'(step {model["step"]}), latent levels {model["latent_shapes"]}, {model["n_bits"]} bit(s) '
        'per pixel.'
    )


def _fmt(value: float, digits: int = 3) -> str:
    return 'n/a' if value is None or not math.isfinite(value) else f'{value:.{digits}f}'


def h1_markdown(h1: dict) -> str:
    """Tables and verdict of hypothesis 1."""
    lines = [
        '| classes pooled P | pools | images per pool | space | KS | KS null | KS − null | '
        'A² | A² null | (A² − null) / n | kurtosis | kurtosis null | A² rejects |',
        '|---' * 13 + '|',
    ]
    for row in h1['rows']:
        for space in h1['spaces']:
            e = row[space]
            lines.append(
                f'| {row["pool"]} | {row["num_pools"]} | {row["mean_rows"]:.0f} | {space} | '
                f'{_fmt(e["ks"]["median"], 4)} | {_fmt(e["ks"]["null_median"], 4)} | '
                f'{_fmt(e["ks"]["excess"], 4)} | {_fmt(e["ad"]["median"])} | '
                f'{_fmt(e["ad"]["null_median"])} | {_fmt(e["ad"]["excess"] / row["mean_rows"], 5)}'
                f' | {_fmt(e["kurtosis"]["median"])} | {_fmt(e["kurtosis"]["null_median"])} | '
                f'{100 * e["ad"]["rejection_rate"]:.0f}% |'
            )
    first, last = h1['rows'][0], h1['rows'][-1]
    ks_first, ks_last = first['all']['ks']['excess'], last['all']['ks']['excess']
    kurt_first, kurt_last = first['all']['kurtosis']['excess'], last['all']['kurtosis']['excess']
    rej_first, rej_last = first['all']['ad']['rejection_rate'], last['all']['ad']['rejection_rate']
    holds = ks_last < ks_first and abs(kurt_last) < abs(kurt_first)
    verdict = [
        '',
        f'**Verdict: {"supported" if holds else "not supported"}.** Over random projections of the '
        f'whole latent, pooling P = {first["pool"]} → {last["pool"]} classes '
        f'({first["mean_rows"]:.0f} → {last["mean_rows"]:.0f} images) moves the median KS '
        f'distance beyond its normal-data value from {ks_first:+.4f} to {ks_last:+.4f}, the median '
        f'excess kurtosis beyond its normal-data value from {kurt_first:+.3f} to {kurt_last:+.3f}, '
        'and the share of projections '
        f'that Anderson-Darling rejects at 5% from {100 * rej_first:.0f}% to {100 * rej_last:.0f}% '
        '(5% for normal data).',
    ]
    if not holds:
        grew = [
            name
            for name, grows in (
                ('the KS distance beyond its null', ks_last >= ks_first),
                ('the excess kurtosis beyond its null', abs(kurt_last) >= abs(kurt_first)),
            )
            if grows
        ]
        pooled = (
            f'At P = {first["pool"]} ({first["mean_rows"]:.0f} images) the tests have little '
            'power; as classes are pooled'
            if first['mean_rows'] < 100
            else 'As classes are pooled'
        )
        verdict.append(
            f'Pooled deviations do not become more normal. {pooled}, {" and ".join(grew)} grow. '
            'A pool of classes with different covariances is a scale mixture, whose tails are '
            "heavier than a normal's (positive excess kurtosis)."
        )
    else:
        verdict.append(
            'The departure from normality, measured in ways that do not depend on the sample '
            'size, shrinks as classes are pooled.'
        )
    levels = [s for s in h1['spaces'] if s != 'all']
    if levels:
        per_level = ', '.join(
            f'{s}: KS − null {last[s]["ks"]["excess"]:+.4f}, kurtosis − null '
            f'{last[s]["kurtosis"]["excess"]:+.3f}'
            for s in levels
        )
        verdict.append(f'Per Glow level at P = {last["pool"]}: {per_level}.')
    return '\n'.join(lines + verdict)


def h2_markdown(h2: dict) -> str:
    """Tables and verdict of hypothesis 2."""
    lines = []
    ks = h2['ks']
    for quantity, by_estimator in h2['errors'].items():
        lines += [
            '',
            f'Relative error of the {quantity} estimate (mean over classes and draws):',
            '',
            '| estimator | ' + ' | '.join(f'K={k}' for k in ks) + ' |',
            '|---' * (len(ks) + 1) + '|',
        ]
        for estimator, values in by_estimator.items():
            cells = ' | '.join(_fmt(v) for v in values['mean'])
            lines.append(f'| {estimator} | {cells} |')
    verdicts = ['']
    for quantity, by_estimator in h2['errors'].items():
        alone = np.array(by_estimator['alone']['mean'])
        combined = {e: np.array(v['mean']) for e, v in by_estimator.items() if '+' in e}
        if not combined:
            continue
        best = np.nanmin(np.stack(list(combined.values())), axis=0)
        helped = [k for k, a, b in zip(ks, alone, best, strict=True) if not a <= b]
        hurt = [k for k, a, b in zip(ks, alone, best, strict=True) if a < b]
        best_name = min(combined, key=lambda e: np.nanmean(combined[e]))
        text = (
            f'- {quantity}: combining with related classes lowers the error at K = '
            f'{_ks(helped)}'
            + (f' and raises it at K = {_ks(hurt)}' if hurt else ' (every K)')
            + f'; best on average: {best_name} (K=1: {_fmt(combined[best_name][0])}, '
            f'K={ks[-1]}: {_fmt(combined[best_name][-1])} vs alone {_fmt(alone[-1])}).'
        )
        prior_only = [np.array(v['mean']) for e, v in by_estimator.items() if e in h2['kappa']]
        if prior_only:
            best_prior = np.nanmin(np.stack(prior_only), axis=0)
            beaten = [k for k, p, b in zip(ks, best_prior, best, strict=True) if p < b]
            if beaten:
                text += (
                    ' The related statistics alone are better than every combination at '
                    f'K = {_ks(beaten)}.'
                )
        everyone = 'all other classes' if h2.get('leave_one_out') else 'all base classes'
        related = {e: np.nanmean(v['mean']) for e, v in by_estimator.items() if e in h2['kappa']}
        if 'all' in related and len(related) > 1:
            closer = [e for e in related if e != 'all' and related[e] < related['all']]
            beat = (
                f'Related classes alone ({", ".join(closer)}) beat {everyone}'
                if closer
                else f'No related set alone beats {everyone}'
            )
            averages = ', '.join(f'{e} {_fmt(v)}' for e, v in related.items())
            text += f' {beat} (mean over K: {averages}).'
        verdicts.append(text)
    kappa = ', '.join(f'{r} {v:.1f}' for r, v in h2['kappa'].items())
    targets = (
        f'{h2["num_classes"]} classes, each left out in turn (its relations: the other '
        f'{h2["num_classes"] - 1})'
        if h2.get('leave_one_out')
        else f'{h2["num_classes"]} evaluation classes'
    )
    header = (
        f'{targets}, {h2["draws"]} draws per K; truth = all images of the class (the K shots '
        f'included); kappa (mean prior weight, in images): {kappa}; nu (covariance prior dof): '
        f'{h2["prior_dof"]:g}.'
    )
    return '\n'.join([header, *lines, *verdicts])


def _ks(ks: list[int]) -> str:
    return ', '.join(map(str, ks)) if ks else 'none'


def _full_report(results: dict) -> str:
    """report.md of `run_report`."""
    options = results['options']
    classification = results['classification']
    facts = results['feature_extractor']
    c_options = classification['options']
    lines = [
        '# Few-shot augmentation in Glow latent space',
        '',
        f'{_model_sentence(results["model"])} Base classes: {results["num_base_classes"]}; '
        f'evaluation classes: {results["num_eval_classes"]}. Seed {options["seed"]}; the run took '
        f'{results["seconds"] / 60:.1f} min.',
        '',
        '## Hypothesis 1: pooled within-class deviations tend to a normal',
        '',
        f'Deviations z − (class mean) of the base classes, pooled over P classes, projected on '
        f'{options["num_projections"]} random unit directions per pool (of the whole latent and '
        'of each Glow level, level_0 the finest); per projection KS and Anderson-Darling A² '
        'against a normal with its own mean and standard deviation, and excess kurtosis. "null" '
        'is the median on normal data of exactly the same shape (pool sizes, class-mean '
        'centring); KS − null and (A² − null) / n estimate the distance to normality at any n. '
        'Medians over pools and projections. Plot: h1_normality.png.',
        '',
        h1_markdown(results['hypothesis_1']),
        '',
        '## Hypothesis 2: related classes improve few-shot statistics',
        '',
        'Estimators: alone (K shots), a relation alone (its pooled mean / covariance), '
        'alone+relation (combined: see tfglow/augment/hypotheses.py). Relations: alphabet (the '
        "other evaluation classes of the class's alphabet), nearest (the "
        f'{results["hypothesis_2"]["num_related"]} background classes nearest to the K-shot '
        'mean), all (every background class). Plot: h2_errors.png.',
        '',
        h2_markdown(results['hypothesis_2']),
        '',
        '## Few-shot classification with augmentation',
        '',
        f'Nearest-centroid classification of evaluation classes in the feature space of a CNN '
        f'trained on the {facts["num_classes"]} base classes ({facts["num_images"]} images, '
        f'final train accuracy {100 * facts["train_accuracy"]:.1f}%). Each method adds '
        f'{c_options["num_augmented"]} decoded images per support class (strength '
        f'{options["strength"]:g}, relation {options["relation"]}, '
        f'{options["num_related"]} related classes); {c_options["num_episodes"]} episodes per '
        f'setting, {c_options["queries_per_class"]} queries per class, the same episodes for '
        'every method. Accuracy in % ± 95% confidence interval over episodes:',
        '',
        evaluate.format_accuracy_table(classification),
        '',
        'Paired difference to no augmentation, in points ± 95% interval over the same episodes:',
        '',
        evaluate.format_difference_table(classification),
        '',
        'Examples (augment_examples.png): per class, one row per method (pooled, transfer, '
        f'calibrated) at strength {options["strength"]:g}: 5 support images, a grey cell, 8 '
        'augmented images.',
    ]
    if results.get('strength_sweep'):
        lines += ['', sweep_markdown(results['strength_sweep'])]
    return '\n'.join(lines)


def _span(values: list[int]) -> str:
    low, high = min(values), max(values)
    return f'{low}' if low == high else f'{low}–{high}'


def _hypotheses_report(results: dict) -> str:
    """report.md of `run_hypotheses_report`."""
    options = results['options']
    h2 = results['hypothesis_2']
    counts = results['images_per_class']
    lines = [
        '# Latent-space augmentation hypotheses in a Glow (one category of classes)',
        '',
        f'{_model_sentence(results["model"])} Classes: {results["num_classes"]} '
        f'({", ".join(results["class_names"])}), '
        f'{_span(counts)} training images each. Seed {options["seed"]}; the run took '
        f'{results["seconds"] / 60:.1f} min.',
        '',
        'Not measured here, as this data has neither: the alphabet pools and relation (the '
        'classes are one category with no sub-groups) and the few-shot classification with '
        'augmentation (no held-out evaluation classes; hypothesis 2 leaves each class out '
        'instead). See the Omniglot report for those.',
        '',
        '## Hypothesis 1: pooled within-class deviations tend to a normal',
        '',
        f'Deviations z − (class mean), pooled over P classes, projected on '
        f'{options["num_projections"]} random unit directions per pool (of the whole latent and '
        'of each Glow level, level_0 the finest); per projection KS and Anderson-Darling A² '
        'against a normal with its own mean and standard deviation, and excess kurtosis. "null" '
        'is the median on normal data of exactly the same shape; KS − null and (A² − null) / n '
        'estimate the distance to normality at any n. Medians over pools and projections. '
        'Plot: h1_normality.png.',
        '',
        h1_markdown(results['hypothesis_1']),
        '',
        '## Hypothesis 2: related classes improve few-shot statistics',
        '',
        'Each class in turn is the new class; the other classes are its related classes. '
        'Estimators: alone (K shots), a relation alone (its pooled mean / covariance), '
        'alone+relation (combined: see tfglow/augment/hypotheses.py). Relations: nearest (the '
        f'{h2["num_related"]} other classes nearest to the K-shot mean), all (every other '
        'class). A relative error of 1 is that of estimating 0 (the mean) or a zero matrix. '
        'Plot: h2_errors.png.',
        '',
        h2_markdown(h2),
    ]
    return '\n'.join(lines)


def sweep_markdown(sweep: list[dict]) -> str:
    """The strength sweep: paired difference to no augmentation per method and strength."""
    first = sweep[0]['classification']
    settings = first['settings']
    header = [f'{s["n_way"]}-way {s["k_shot"]}-shot' for s in settings]
    none = ', '.join(
        f'{h} {100 * s["accuracy"]["none"]["mean"]:.2f}%' for h, s in zip(header, settings)
    )
    lines = [
        '### Strength sweep',
        '',
        f'{first["options"]["num_episodes"]} other episodes per setting (seed '
        f'{first["options"]["seed"]}); no augmentation: {none}. Paired difference to no '
        'augmentation in points ± 95% interval (the same evaluation classes as above, so a '
        'strength picked here is picked on them):',
        '',
        '| method | strength | ' + ' | '.join(header) + ' |',
        '|---' * (len(header) + 2) + '|',
    ]
    for name in first['methods']:
        for entry in sweep:
            cells = []
            for s in entry['classification']['settings']:
                d = s['difference'][name]
                cells.append(f'{100 * d["mean"]:+.2f} ± {100 * d["ci95"]:.2f}')
            lines.append(f'| {name} | {entry["strength"]:g} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)
