"""Few-shot data augmentation in a Glow's latent space.

```none
latent.py      uint8 images <-> flat latents (LatentCodec: FlowCodec, SavedModelCodec, load_codec)
               and ClassLatents (the latents of a labelled set, class by class)
stats.py       KS / Anderson-Darling / kurtosis against a normal, random projections, Gram tricks
hypotheses.py  hypothesis 1 (pooled deviations tend to normal) and 2 (related classes improve
               K-shot means and covariances)
methods.py     BaseStatistics and the augmentation methods 'pooled', 'transfer', 'calibrated'
features.py    the frozen CNN of the few-shot classification
evaluate.py    N-way K-shot nearest-centroid accuracy with and without each method
folders.py     class folders of PNGs in and out
report/        everything above as one report (tfglow-augment-report); the SavedModel export
               (augment / encode / decode signatures) is tfglow.serving.augment
```
"""

from tfglow.augment.latent import (
    ClassLatents,
    FlowCodec,
    LatentCodec,
    SavedModelCodec,
    encode_classes,
    load_codec,
)
from tfglow.augment.methods import METHODS, AugmentOptions, BaseStatistics, augment_latents

__all__ = [
    'METHODS',
    'AugmentOptions',
    'BaseStatistics',
    'ClassLatents',
    'FlowCodec',
    'LatentCodec',
    'SavedModelCodec',
    'augment_latents',
    'encode_classes',
    'load_codec',
]
