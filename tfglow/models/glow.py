"""Glow assembled from a config's `model` section."""

import ml_collections

import tfp_flows

__all__ = ['build_model']


def build_model(
    model_config: ml_collections.ConfigDict,
    image_shape: tuple[int, int, int],
    num_classes: int = 0,
    seed: int | None = None,
) -> tfp_flows.Glow:
    """Builds the `tfp_flows.Glow` that `model_config` describes for images of `image_shape`.

    Args:
      model_config: the config's `model` section (`num_levels`, `steps_per_level`, `hidden_width`,
        `permutation`, `coupling`, `learn_top`, `class_conditional`, `network_dtype`).
      image_shape: `(H, W, C)` of the data.
      num_classes: classes in the data; used only when `model_config.class_conditional`.
      seed: seed of the random initial weights and permutations.

    Raises:
      ValueError: for an unknown model name, a class-conditional model on unlabelled data, or any
        invalid architecture value (raised by `tfp_flows.Glow` with the value named).
    """
    name = model_config.get('name', 'glow')
    if name != 'glow':
        raise ValueError(f"config.model.name must be 'glow' for this builder; got {name!r}.")
    class_conditional = bool(model_config.get('class_conditional', False))
    if class_conditional and num_classes < 2:
        raise ValueError(
            'config.model.class_conditional=True needs labelled data with at least 2 classes; '
            f'the dataset has {num_classes}.'
        )
    return tfp_flows.Glow(
        image_shape=tuple(image_shape),
        num_levels=model_config.num_levels,
        steps_per_level=model_config.steps_per_level,
        hidden_width=model_config.hidden_width,
        permutation=model_config.permutation,
        coupling=model_config.coupling,
        learn_top=bool(model_config.learn_top),
        num_classes=num_classes if class_conditional else 0,
        seed=seed,
        # Runs written before the key existed computed in float32.
        network_dtype=model_config.get('network_dtype', 'float32'),
    )
