"""The two Glows under comparison, behind one interface, and the compiled functions timed on them.

`tfglow` is `tfp_flows.Glow`; `tfp` is TensorFlow Probability's `tfb.Glow` with its
`GlowDefaultNetwork` / `GlowDefaultExitNetwork` at the same width, as a `TransformedDistribution`
over a standard normal. Both see the same architecture: L levels of K steps (ActNorm, 1x1 conv,
affine coupling with conv 3x3 -> ReLU -> conv 1x1 -> ReLU -> zero conv 3x3), a learned
conditional prior at each split (`tfb.Glow`'s exit bijector), and a standard-normal top.
"""

import dataclasses
import functools
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras

import tfp_flows

tfb, tfd = tfp.bijectors, tfp.distributions

__all__ = [
    'FUNCTIONS',
    'MODELS',
    'PRESETS',
    'BenchConfig',
    'Candidate',
    'build',
    'make_functions',
    'parameter_count',
    'resolve_config',
]

# `_bf16` variants compute in bfloat16 where each model lets one: tfglow's coupling networks
# (`network_dtype='bfloat16'`, the flow itself in float32) and TFP's Keras networks under the
# 'mixed_bfloat16' policy of tf_keras (the Keras that TFP's layers are built with). Fast on CPUs
# with bfloat16 units (AMX, AVX512-BF16).
MODELS = ('tfglow', 'tfp', 'tfglow_bf16', 'tfp_bf16')
FUNCTIONS = ('train', 'log_prob', 'encode', 'sample')


@dataclasses.dataclass(frozen=True)
class BenchConfig:
    """One benchmarked architecture and batch."""

    name: str
    image_shape: tuple[int, int, int]
    num_levels: int
    steps_per_level: int
    hidden_width: int
    batch_size: int
    learn_top: bool = False

    def describe(self) -> str:
        height, width, channels = self.image_shape
        return (
            f'{height}x{width}x{channels} L{self.num_levels} K{self.steps_per_level} '
            f'w{self.hidden_width} b{self.batch_size}'
        )


PRESETS = {
    'l3k4w128': BenchConfig('l3k4w128', (32, 32, 3), 3, 4, 128, 16),
    'l3k8w512': BenchConfig('l3k8w512', (32, 32, 3), 3, 8, 512, 16),
    # The default Fashion-MNIST model (configs/fashion_mnist_glow.py), read from the file.
    'fashion_mnist': 'configs/fashion_mnist_glow.py',
}


def resolve_config(name: str, batch_size: int = 0) -> BenchConfig:
    """A preset name or a config file `path.py[:variant]`; `batch_size` > 0 overrides the batch."""
    preset = PRESETS.get(name, name)
    if isinstance(preset, BenchConfig):
        config = preset
    else:
        config = _from_config_file(name, preset)
    return dataclasses.replace(config, batch_size=batch_size) if batch_size > 0 else config


def _from_config_file(name: str, spec: str) -> BenchConfig:
    from tfglow import config_lib  # Only config files need the training package.

    path, _, variant = spec.partition(':')
    module = config_lib.load_config_module(path)
    config = module.get_config(variant or None)
    native = getattr(module, 'NATIVE_IMAGE_SHAPE', (None, None, 3))
    model = config.model
    return BenchConfig(
        name=name,
        image_shape=config_lib.model_image_shape(config, native),
        num_levels=model.num_levels,
        steps_per_level=model.steps_per_level,
        hidden_width=model.hidden_width,
        batch_size=config.batch_size,
        learn_top=bool(model.learn_top),
    )


@dataclasses.dataclass
class Candidate:
    """A built, initialised model and the calls the benchmark makes on it."""

    name: str
    distribution: tfd.Distribution
    encode: Callable
    # tfb.Glow cannot trace with an unknown batch dimension (its Reshape/Blockwise bijectors need
    # static event sizes from a static batch), so only tfglow's functions take `[None, H, W, C]`.
    dynamic_batch: bool

    @property
    def trainable_variables(self):
        return self.distribution.trainable_variables


def parameter_count(candidate: Candidate) -> int:
    return int(sum(np.prod(v.shape) for v in candidate.trainable_variables))


def _images(config: BenchConfig, seed: int = 0) -> tf.Tensor:
    rng = np.random.default_rng(seed)
    shape = (config.batch_size, *config.image_shape)
    return tf.constant(rng.uniform(-0.5, 0.5, size=shape), tf.float32)


def _build_tfglow(config: BenchConfig, memory_saving: str, network_dtype=None) -> Candidate:
    options = {} if memory_saving == 'none' else {'memory_saving': memory_saving}
    if network_dtype:
        options['network_dtype'] = network_dtype
    glow = tfp_flows.Glow(
        config.image_shape,
        config.num_levels,
        config.steps_per_level,
        config.hidden_width,
        learn_top=config.learn_top,
        seed=0,
        **options,
    )
    glow.initialize(_images(config, seed=1))
    name = 'tfglow' if network_dtype is None else 'tfglow_bf16'
    return Candidate(name, glow, glow.encode, dynamic_batch=True)


def _mixed_bfloat16(network_class):
    """`network_class`'s Keras network under tf_keras' 'mixed_bfloat16' policy.

    As Keras' mixed-precision guide prescribes, a float32 layer at the end returns the output in
    float32: tfb.Glow's shift and scale bijectors refuse a bfloat16 network output against float32
    data (tf_keras being the Keras that TFP's layers are built with).
    """

    def build(*args, **kwargs):
        previous = tf_keras.mixed_precision.global_policy()
        tf_keras.mixed_precision.set_global_policy('mixed_bfloat16')
        try:
            network = network_class(*args, **kwargs)
        finally:
            tf_keras.mixed_precision.set_global_policy(previous)
        return tf_keras.Sequential([network, tf_keras.layers.Activation('linear', dtype='float32')])

    return build


def _build_tfp(config: BenchConfig, mixed_bfloat16: bool = False) -> Candidate:
    networks = (tfb.GlowDefaultNetwork, tfb.GlowDefaultExitNetwork)
    if mixed_bfloat16:
        networks = tuple(_mixed_bfloat16(network) for network in networks)
    bijector = tfb.Glow(
        output_shape=config.image_shape,
        num_glow_blocks=config.num_levels,
        num_steps_per_block=config.steps_per_level,
        coupling_bijector_fn=functools.partial(networks[0], num_hidden=config.hidden_width),
        exit_bijector_fn=networks[1],
        seed=0,
    )
    latent_shape = bijector.inverse_event_shape(config.image_shape)
    distribution = tfd.TransformedDistribution(
        tfd.Sample(tfd.Normal(0.0, 1.0), latent_shape), bijector
    )
    # tfb.Glow's ActNorms initialise themselves from the first batch they see (inside a tf.cond);
    # one eager pass does it, the equivalent of tfglow's explicit `initialize`.
    distribution.log_prob(_images(config, seed=1))
    name = 'tfp_bf16' if mixed_bfloat16 else 'tfp'
    return Candidate(name, distribution, bijector.inverse, dynamic_batch=False)


def build(model: str, config: BenchConfig, memory_saving: str = 'none') -> Candidate:
    """Builds and data-initialises `model` (one of `MODELS`) for `config`."""
    if model in ('tfglow', 'tfglow_bf16'):
        return _build_tfglow(config, memory_saving, 'bfloat16' if model == 'tfglow_bf16' else None)
    if model in ('tfp', 'tfp_bf16'):
        if memory_saving != 'none':
            raise ValueError('memory_saving applies to tfglow only.')
        return _build_tfp(config, mixed_bfloat16=model == 'tfp_bf16')
    raise ValueError(f'model must be one of {MODELS}; got {model!r}.')


def make_functions(candidate: Candidate, config: BenchConfig, jit_compile: bool) -> dict:
    """The timed calls, each a zero-argument callable over fixed inputs, returning a tensor.

    `train` is one optimiser step: log_prob, its gradient and an Adam update, in one tf.function.
    """
    images = _images(config)
    dist = candidate.distribution
    variables = list(candidate.trainable_variables)
    optimizer = keras.optimizers.Adam(1e-4)
    # Slots created here, eagerly: creating them on the first traced call would retrace.
    optimizer.build(variables)
    image_spec = tf.TensorSpec(
        [None if candidate.dynamic_batch else config.batch_size, *config.image_shape], tf.float32
    )
    compile_fn = functools.partial(
        tf.function, jit_compile=jit_compile, input_signature=[image_spec], autograph=False
    )

    @compile_fn
    def train(x):
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(dist.log_prob(x))
        gradients = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(gradients, variables))
        return loss

    @compile_fn
    def log_prob(x):
        return dist.log_prob(x)

    @compile_fn
    def encode(x):
        return candidate.encode(x)

    @tf.function(jit_compile=jit_compile, autograph=False)
    def sample(seed):
        return dist.sample(config.batch_size, seed=seed)

    seed = tf.constant([1, 2], tf.int32)
    return {
        'train': lambda: train(images),
        'log_prob': lambda: log_prob(images),
        'encode': lambda: encode(images),
        'sample': lambda: sample(seed),
    }
