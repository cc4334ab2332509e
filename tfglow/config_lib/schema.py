"""The config schema: option lists, each model family's keys and defaults, and `base_config`.

`PERMUTATIONS`, `COUPLINGS` and `PIXEL_CNN_OUTPUTS` repeat `tfp_flows`' own lists rather than
import them, because importing `tfp_flows` loads TensorFlow (seconds) and loading a config should
not; `tests/tfglow/config_lib/schema_test.py` checks that both agree.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

import ml_collections

__all__ = [
    'COUPLINGS',
    'DEQUANTIZATIONS',
    'EPISODIC_MODELS',
    'FLOW_MODELS',
    'MODEL_KEYS',
    'MODEL_NAMES',
    'NETWORK_DTYPES',
    'OPTIMIZERS',
    'PERMUTATIONS',
    'PIXEL_CNN_OUTPUTS',
    'SOURCES',
    'STRATEGIES',
    'base_config',
    'did_you_mean',
    'model_image_shape',
]

STRATEGIES = ('default', 'one_device', 'mirrored', 'multi_worker_mirrored', 'tpu')
SOURCES = ('tfds', 'folder', 'tfrecord', 'idx', 'omniglot_npz')
MODEL_NAMES = ('glow', 'pixelcnn', 'attention_pixelcnn', 'meta_pixelcnn', 'fewshot_glow')
# Models trained on episodes (a support set and a target of one class) rather than on images; their
# configs have an `episodes` section.
EPISODIC_MODELS = ('attention_pixelcnn', 'meta_pixelcnn', 'fewshot_glow')
FLOW_MODELS = ('glow', 'fewshot_glow')
# tfp_flows.PixelCNN's `output`.
PIXEL_CNN_OUTPUTS = ('categorical', 'logistic_mixture', 'bernoulli')
# tfp_flows.Glow's `permutation` and `coupling`.
PERMUTATIONS = ('invconv', 'lu_invconv', 'shuffle', 'reverse')
COUPLINGS = ('affine', 'additive')
# What the coupling networks compute in (tfp_flows.Glow's `network_dtype`, which takes any floating
# dtype): bfloat16 is mixed precision for CPUs with bf16 units (AMX, AVX512-BF16) and recent GPUs;
# float16 for GPUs.
NETWORK_DTYPES = ('float32', 'bfloat16', 'float16')
# tfp_flows.FewShotGlow's `dequantization`.
DEQUANTIZATIONS = ('uniform', 'variational')
OPTIMIZERS = ('adamax', 'adam')

# Each family's `model` section with its defaults, beside `name`. Every key is required, so the
# config.json a run writes records every architecture value it used.
_FLOW_KEYS = {
    'num_levels': 2,
    'steps_per_level': 8,
    'hidden_width': 64,
    'permutation': 'invconv',
    'coupling': 'affine',
    'learn_top': False,
}
_PIXEL_CNN_KEYS = {
    'output': 'categorical',
    'num_layers': 12,
    'hidden_width': 64,
    'num_mixtures': 10,
}
MODEL_KEYS = {
    'glow': {
        **_FLOW_KEYS,
        'class_conditional': False,
        'weight_y': 0.0,
        'n_bits_x': 8,
        'network_dtype': 'float32',
    },
    # As tfglow.models.fewshot.build_fewshot_model reads them; it checks the values of the string
    # options, which it owns.
    'fewshot_glow': {
        **_FLOW_KEYS,
        'context': 'spatial',
        'context_channels': 16,
        'encoder_width': 32,
        'pooling': 'attention',
        'num_heads': 4,
        'n_bits_x': 8,
        # Channels of a full-resolution support map read by the finest level (0 = none).
        'support_map_width': 0,
        # Dequantisation noise: 'uniform', or 'variational' (a learned q(u | x), Flow++).
        'dequantization': 'uniform',
        'dequantizer_couplings': 3,
        'dequantizer_width': 32,
    },
    'pixelcnn': {**_PIXEL_CNN_KEYS, 'class_conditional': False, 'n_bits_x': 8},
    'attention_pixelcnn': {
        **_PIXEL_CNN_KEYS,
        'num_heads': 4,
        'key_width': 16,
        'value_width': 16,
        'encoder_width': 32,
        'encoder_layers': 2,
        'support_pool': 1,
        # Whether to attend and at which layers (() = every third counting back from the last),
        # and the channels and convolutions of a location-dependent support map (0 = none).
        'attention': True,
        'attention_layers': (),
        'map_width': 0,
        'map_layers': 3,
        'n_bits_x': 8,
    },
    # tfp_flows.MetaPixelCNN: the entries of the conditioning vector phi and the side of the grid
    # of them (0 = one vector for every position, G = a G x G map), the inner gradient steps
    # on the support and their initial (learned) step size, whether to stop gradients through
    # the inner gradients, and the learned inner loss's convolutions.
    'meta_pixelcnn': {
        **_PIXEL_CNN_KEYS,
        'condition_width': 32,
        'condition_grid': 0,
        'inner_steps': 1,
        'inner_step_size': 0.1,
        'first_order': False,
        'inner_loss_width': 32,
        'inner_loss_layers': 2,
        'n_bits_x': 8,
    },
}
# The `episodes` section of episodic models: support sizes K drawn uniformly in k_min..k_max per
# training batch, a fixed K for evaluation, and optional class subsets (labels; () = all).
_EPISODES_KEYS = {
    'k_min': 1,
    'k_max': 5,
    'eval_support_size': 5,
    'train_classes': (),
    'eval_classes': (),
    # Each training class also as three new classes, rotated by 90, 180 and 270 degrees.
    'rotate_train_classes': False,
}
# Flows score discrete data through dequantisation noise; evaluation averages this many draws.
_FLOW_EPISODES_KEYS = {'eval_noise_samples': 4}


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`" (did you mean 'x'?)"` for the closest of `known` to a misspelt `name`, else ''."""
    matches = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean '{matches[0]}'?)" if matches else ''


def base_config(model: str = 'glow') -> ml_collections.ConfigDict:
    """The complete schema of a model family with its default values; every config starts here.

    Args:
      model: the family, one of `MODEL_NAMES`; it decides the keys of the `model` section and
        whether there is an `episodes` section (`EPISODIC_MODELS`). Default value: 'glow'.

    Raises:
      ValueError: for an unknown model name.
    """
    if model not in MODEL_NAMES:
        raise ValueError(
            f'unknown model {model!r}{did_you_mean(model, MODEL_NAMES)}; '
            f'allowed: {", ".join(MODEL_NAMES)}'
        )
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.strategy = 'default'

    config.data = ml_collections.ConfigDict()
    config.data.source = 'idx'
    config.data.name = 'fashion_mnist'
    config.data.path = ''
    config.data.image_size = 0
    config.data.train_split = 'train'
    config.data.eval_split = 'test'
    config.data.shuffle_buffer = 10_000

    config.model = ml_collections.ConfigDict({'name': model, **MODEL_KEYS[model]})
    if model in EPISODIC_MODELS:
        flow_keys = _FLOW_EPISODES_KEYS if model in FLOW_MODELS else {}
        config.episodes = ml_collections.ConfigDict({**_EPISODES_KEYS, **flow_keys})

    config.batch_size = 64
    config.eval_batch_size = 256
    config.num_train_steps = 1000
    config.optimizer = 'adamax'
    config.learning_rate = 1e-3
    config.beta1 = 0.9
    config.beta2 = 0.999
    config.warmup_steps = 100
    config.ema_decay = 0.999
    config.grad_clip_norm = 0.0
    config.max_consecutive_bad_steps = 10
    config.n_batch_init = 256
    config.log_every_steps = 50
    config.checkpoint_every_steps = 1000
    config.eval_every_steps = 5000
    config.num_eval_examples = 0
    is_flow = model in FLOW_MODELS
    config.sample_temperatures = (0.0, 0.5, 0.7, 1.0) if is_flow else (1.0,)
    config.num_samples = 16
    # Nearest-neighbour upscaling of the sample PNGs (0: cells of at least 64 pixels).
    config.sample_upscale = 0
    config.keep_checkpoints = 3
    return config


def model_image_shape(
    config: ml_collections.ConfigDict, native_shape: Sequence[int | None]
) -> tuple[int, int, int]:
    """The `[H, W, C]` the model sees: `image_size` square if set, else the data's native shape.

    Args:
      config: a full config.
      native_shape: `(H, W, C)` as the data source stores it; H and W may be None when images
        vary in size (then `config.data.image_size` must be set).

    Raises:
      ValueError: when the shape is unknown (varying native size and `image_size` 0).
    """
    height, width, channels = native_shape
    size = config.data.image_size
    if size:
        return (size, size, channels)
    if height is None or width is None:
        raise ValueError(
            f'config.data.image_size is 0 (native size) but {config.data.name!r} images vary '
            'in size; set config.data.image_size'
        )
    return (height, width, channels)
