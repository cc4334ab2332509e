"""Evaluation of support-conditioned (few-shot) generative models: one toolkit for all of them.

Every model is wrapped in an adapter with one protocol over discrete images,
`adapters.SupportModel` (`adapters.as_adapter`); its module docstring says what each reported
number (estimator) is. The analyses, all driven by `run.run_evaluation` and
`tfglow-fewshot-eval`:

```none
adapters        SupportModel, PixelCNNAdapter, GlowAdapter: log P(x | support) and samples
episodes        N-way K-shot episodes and the 95% interval over them (also used by augment)
pool            the evaluation classes as one array; scoring its rows in batches
sweep           cardinality_sweep: NLL of held-out images given K = 1, 2, 5, 10, 19 images of
                their class, with the no-support and (optional) unconditional baselines on the
                same images and the same dequantisation noise
classification  classify: likelihood-based N-way K-shot classification, each query to the
                support set under which it is most likely; episodes of classes from any
                alphabet or all from one ('within_alphabet')
specificity     specificity_gap: log P(x | its class's support) - log P(x | the support of
                another class of the same alphabet), paired target by target
sampling        refined_sampling: sample, add the samples to the support set, sample again
fidelity        sample_fidelity: the share of samples that a fixed classifier (trained on the
                base classes) puts in their support's class, beside that of real images
plots           NLL vs K and accuracy vs K as PNGs
run             EvalOptions, run_evaluation: everything at once, written to files
restore         load_workdir: a `tfglow-train` workdir's model behind the protocol
```

#### Examples

```python
from tfglow.fewshot import adapters, classification, sweep

model = adapters.as_adapter(few_shot_glow, n_bits=1, num_noise_samples=8)
class_arrays = data.load_class_arrays(config.data, 'test')    # {class: uint8 [20, 28, 28, 1]}
result = sweep.cardinality_sweep(model, class_arrays, ks=(1, 5))
print(sweep.format_sweep_table(result))
accuracy = classification.classify(model, class_arrays, n_way=5, k_shot=1, num_episodes=600)
```
"""
