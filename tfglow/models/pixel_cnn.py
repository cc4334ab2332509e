"""PixelCNNs built from a config's `model` section: plain, class-conditional, attention, meta."""

import ml_collections

import tfp_flows

__all__ = ['build_attention_pixel_cnn', 'build_meta_pixel_cnn', 'build_pixel_cnn']


def build_pixel_cnn(
    model_config: ml_collections.ConfigDict,
    image_shape: tuple[int, int, int],
    num_classes: int = 0,
    seed: int | None = None,
) -> tfp_flows.PixelCNN:
    """The `tfp_flows.PixelCNN` that a `'pixelcnn'` model section describes.

    Args:
      model_config: the config's `model` section (`output`, `num_layers`, `hidden_width`,
        `num_mixtures`, `class_conditional`).
      image_shape: `(H, W, C)` of the data.
      num_classes: classes in the data; used only when `model_config.class_conditional`.
      seed: seed of the random initial weights.

    Raises:
      ValueError: for another model name, a class-conditional model on data with fewer than 2
        classes, or invalid architecture values (raised by `tfp_flows.PixelCNN`, value named).
    """
    _check_name(model_config, 'pixelcnn')
    class_conditional = bool(model_config.class_conditional)
    if class_conditional and num_classes < 2:
        raise ValueError(
            'config.model.class_conditional=True needs labelled data with at least 2 classes; '
            f'the dataset has {num_classes}.'
        )
    return tfp_flows.PixelCNN(
        image_shape=tuple(image_shape),
        output=model_config.output,
        num_layers=model_config.num_layers,
        hidden_width=model_config.hidden_width,
        num_mixtures=model_config.num_mixtures,
        num_classes=num_classes if class_conditional else 0,
        seed=seed,
    )


def build_attention_pixel_cnn(
    model_config: ml_collections.ConfigDict,
    image_shape: tuple[int, int, int],
    seed: int | None = None,
) -> tfp_flows.AttentionPixelCNN:
    """The `tfp_flows.AttentionPixelCNN` that an `'attention_pixelcnn'` model section describes.

    Args:
      model_config: the config's `model` section (`output`, `num_layers`, `hidden_width`,
        `num_mixtures`, `num_heads`, `key_width`, `value_width`, `encoder_width`,
        `encoder_layers`, `support_pool`, `attention`, `attention_layers`, `map_width`,
        `map_layers`).
      image_shape: `(H, W, C)` of the data.
      seed: seed of the random initial weights.

    Raises:
      ValueError: for another model name or invalid architecture values.
    """
    _check_name(model_config, 'attention_pixelcnn')
    return tfp_flows.AttentionPixelCNN(
        image_shape=tuple(image_shape),
        output=model_config.output,
        num_layers=model_config.num_layers,
        hidden_width=model_config.hidden_width,
        num_mixtures=model_config.num_mixtures,
        num_heads=model_config.num_heads,
        key_width=model_config.key_width,
        value_width=model_config.value_width,
        encoder_width=model_config.encoder_width,
        encoder_layers=model_config.encoder_layers,
        # Workdirs written before the key existed pooled nothing.
        support_pool=model_config.get('support_pool', 1),
        # Workdirs written before these keys existed attend at the default layers, with no map.
        attention_layers=(
            tuple(model_config.get('attention_layers', ())) or None
            if model_config.get('attention', True)
            else ()
        ),
        map_width=model_config.get('map_width', 0),
        map_layers=model_config.get('map_layers', 3),
        seed=seed,
    )


def build_meta_pixel_cnn(
    model_config: ml_collections.ConfigDict,
    image_shape: tuple[int, int, int],
    seed: int | None = None,
) -> tfp_flows.MetaPixelCNN:
    """The `tfp_flows.MetaPixelCNN` that a `'meta_pixelcnn'` model section describes.

    Args:
      model_config: the config's `model` section (`output`, `num_layers`, `hidden_width`,
        `num_mixtures`, `condition_width`, `condition_grid`, `inner_steps`, `inner_step_size`,
        `first_order`, `inner_loss_width`, `inner_loss_layers`).
      image_shape: `(H, W, C)` of the data.
      seed: seed of the random initial weights.

    Raises:
      ValueError: for another model name or invalid architecture values.
    """
    _check_name(model_config, 'meta_pixelcnn')
    return tfp_flows.MetaPixelCNN(
        image_shape=tuple(image_shape),
        output=model_config.output,
        num_layers=model_config.num_layers,
        hidden_width=model_config.hidden_width,
        num_mixtures=model_config.num_mixtures,
        condition_width=model_config.condition_width,
        condition_grid=model_config.condition_grid,
        inner_steps=model_config.inner_steps,
        inner_step_size=float(model_config.inner_step_size),
        first_order=model_config.first_order,
        inner_loss_width=model_config.inner_loss_width,
        inner_loss_layers=model_config.inner_loss_layers,
        seed=seed,
    )


def _check_name(model_config: ml_collections.ConfigDict, expected: str) -> None:
    if model_config.name != expected:
        raise ValueError(
            f'config.model.name must be {expected!r} for this builder; got {model_config.name!r}.'
        )
