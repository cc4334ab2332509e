"""SavedModel exports for TF Serving: one serving module per model family, one export function.

```none
export.py    export_saved_model(workdir, export_dir): restores the run once, picks the family
glow.py      GlowServingModule: sample, bits_per_dim, encode, decode, interpolate, manipulate
fewshot.py   FewShotGlowServingModule, PixelCNNServingModule: the support-conditioned families
augment.py   AugmentServingModule, export_augment_saved_model: latent-space augmentation
checks.py    the in-graph input checks and limits every signature shares, output checks
client.py    signature_inputs: the Python-side dtype checks a SavedModel cannot make itself
versions.py  integer version directories, their atomic writing and metadata file
```

Import the modules themselves (`from tfglow.serving import export`); this file imports none, so
that low modules (`versions`) can be imported without the exporters.
"""
