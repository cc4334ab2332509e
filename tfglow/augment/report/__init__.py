"""The augmentation report: both hypotheses and the few-shot accuracy table, in one run.

`run_report` encodes the base (Omniglot background) and evaluation classes with a `LatentCodec`,
then writes to `output_dir`:

```none
report.md              the results in words and tables, with where the hypotheses fail
results.json           every number (and the options)
h1_normality.png       hypothesis 1: distance to normality of pooled deviations vs classes pooled
h2_errors.png          hypothesis 2: K-shot mean / variance / covariance errors vs K
augment_examples.png   support images and augmented images of a few evaluation classes
latents_cache.npz      the encoded images (reused when the checkpoint and classes match)
feature_extractor/     the CNN of the classification (reused when its settings match)
```

`run_hypotheses_report` is the report of a labelled set with a few classes and no alphabets or
evaluation classes (Fashion-MNIST: 10 classes of one category, clothing): both hypotheses on the
train split's classes (hypothesis 2 leaves each class out in turn), without the classification,
augment_examples.png and feature_extractor/. `DATASET_MODES` says which report a dataset gets.

```none
options.py   ReportOptions (what a report runs) and the report each dataset gets
run.py       run_report, run_hypotheses_report (encoding cached), write_report, rewrite_report
plots.py     the hypothesis plots and the grid of augmented examples
markdown.py  report.md, from the results alone
```
"""

from tfglow.augment.report.options import (
    DATASET_MODES,
    FLAT_POOL_SIZES,
    ReportOptions,
    report_mode,
)
from tfglow.augment.report.run import (
    rewrite_report,
    run_hypotheses_report,
    run_report,
    write_report,
)

__all__ = [
    'DATASET_MODES',
    'FLAT_POOL_SIZES',
    'ReportOptions',
    'report_mode',
    'rewrite_report',
    'run_hypotheses_report',
    'run_report',
    'write_report',
]
