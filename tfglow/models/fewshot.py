"""The few-shot Glow assembled from a config's `model` section."""

import ml_collections

import tfp_flows

__all__ = ['build_fewshot_model']


def build_fewshot_model(
    model_config: ml_collections.ConfigDict,
    image_shape: tuple[int, int, int],
    seed: int | None = None,
) -> tfp_flows.FewShotGlow:
    """Builds the `tfp_flows.FewShotGlow` that `model_config` describes for `image_shape` images.

    Args:
      model_config: the config's `model` section: `num_levels`, `steps_per_level`,
        `hidden_width`, `permutation`, `coupling`, `learn_top` (as for
        `tfglow.models.glow.build_model`) and, with these defaults, `context` ('spatial'),
        `context_channels` (16), `encoder_width` (32), `pooling` ('attention'), `num_heads` (4),
        `support_map_width` (0), `dequantization` ('uniform'), `dequantizer_couplings` (3),
        `dequantizer_width` (32).
      image_shape: `(H, W, C)` of the data.
      seed: seed of the random initial weights and permutations.

    Raises:
      ValueError: for another model name or invalid architecture values (raised by
        `tfp_flows.FewShotGlow` with the value named).
    """
    name = model_config.get('name', 'fewshot_glow')
    if name != 'fewshot_glow':
        raise ValueError(
            f"config.model.name must be 'fewshot_glow' for this builder; got {name!r}."
        )
    return tfp_flows.FewShotGlow(
        image_shape=tuple(image_shape),
        num_levels=model_config.num_levels,
        steps_per_level=model_config.steps_per_level,
        hidden_width=model_config.hidden_width,
        permutation=model_config.get('permutation', 'invconv'),
        coupling=model_config.get('coupling', 'affine'),
        learn_top=bool(model_config.get('learn_top', False)),
        context=model_config.get('context', 'spatial'),
        context_channels=model_config.get('context_channels', 16),
        encoder_width=model_config.get('encoder_width', 32),
        pooling=model_config.get('pooling', 'attention'),
        num_heads=model_config.get('num_heads', 4),
        support_map_width=model_config.get('support_map_width', 0),
        # Runs written before variational dequantisation existed used uniform noise.
        dequantization=model_config.get('dequantization', 'uniform'),
        dequantizer_couplings=model_config.get('dequantizer_couplings', 3),
        dequantizer_width=model_config.get('dequantizer_width', 32),
        seed=seed,
    )
