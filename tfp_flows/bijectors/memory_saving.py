"""Running a level's flow steps with less memory for the backward pass.

Plain backprop keeps every activation of every flow step (for a coupling, its network's hidden
layers) until the backward pass reaches it, so training memory grows with the depth K. Two ways to
trade compute for memory, both giving the same gradients:

- `'recompute'`: each layer is a checkpoint (`tf.recompute_grad`, openai/glow's gradient
  checkpointing): only its input is kept, and its activations are recomputed when the backward pass
  reaches it. Memory: one layer's activations plus K small step outputs.
- `'invert'`: a level's steps form one custom-gradient block that keeps only the level's output.
  The backward pass walks the steps in reverse, reconstructing each step's input from its output
  with the step's inverse (a flow is invertible, so nothing needs storing) and recomputing its
  local gradients (`FlowBijector._backprop_from_output`). Memory: one layer's activations,
  whatever K is. The reconstruction is exact up to float rounding.

Both cost about one extra forward pass of the networks. The savings hold in graph execution
(`tf.function`, where training runs): the backward graph then references no activation of the
forward pass. Eagerly, an outer tape still records (and so keeps) the forward's tensors.
"""

import tensorflow as tf

from tfp_flows.bijectors.half_affine import HalfAffine

__all__ = ['MEMORY_SAVING', 'run_layers']

MEMORY_SAVING = ('none', 'recompute', 'invert')


def _condition(layer, conditional_input) -> dict:
    """The conditioning kwargs `layer` takes: only half-affine layers are conditioned."""
    if isinstance(layer, HalfAffine):
        return {'conditional_input': conditional_input}
    return {}


def _forward(layers, z, conditional_input):
    log_det = 0.0
    for layer in layers:
        z, layer_log_det = layer.forward_and_log_det(z, **_condition(layer, conditional_input))
        log_det += layer_log_det
    return z, log_det


def _after(value: tf.Tensor, signal: tf.Tensor) -> tf.Tensor:
    """`value`, made to wait for `signal` by a data dependency that adds zero.

    A dataflow executor runs an op as soon as its inputs exist, so the backward pass's
    reconstruction and recomputation would otherwise all run right after the forward pass, and
    their activations would be alive together, exactly what the memory saving is to avoid. A
    control dependency would order them too, but XLA ignores those.
    """
    first = tf.reduce_max(tf.reshape(signal, [-1])[:1])
    flag = tf.cast(first, tf.bool)  # A NaN or an empty signal still gives a bool.
    zero = tf.where(tf.equal(flag, flag), 0.0, float('nan'))
    return value + tf.cast(zero, value.dtype)


def _recompute(layers, z, conditional_input):
    condition = [] if conditional_input is None else [conditional_input]
    log_det = 0.0
    for layer in layers:
        # Positional arguments only: custom gradients in graph mode take no kwargs.
        def checkpoint(z, *condition, layer=layer):
            conditional_input = condition[0] if condition else None
            return layer.forward_and_log_det(z, **_condition(layer, conditional_input))

        z, layer_log_det = tf.recompute_grad(checkpoint)(z, *condition)
        log_det += layer_log_det
    return z, log_det


def _invert(layers, z, conditional_input):
    condition = [] if conditional_input is None else [conditional_input]

    @tf.custom_gradient
    def block(z, *condition):
        conditional_input = condition[0] if condition else None
        output, log_det = _forward(layers, z, conditional_input)

        def gradient(doutput, dlog_det, variables=None):
            if dlog_det is None:
                dlog_det = tf.zeros_like(log_det)
            dz, y, dcondition, by_variable = doutput, output, None, {}
            for layer in reversed(layers):
                kwargs = _condition(layer, conditional_input)
                y = _after(y, dz)
                y, dz, dkwargs, dvariables = layer._backprop_from_output(y, dz, dlog_det, **kwargs)
                for variable, grad in zip(layer.trainable_variables, dvariables):
                    by_variable[variable.ref()] = grad
                if dkwargs.get('conditional_input') is not None:
                    conditioned = dkwargs['conditional_input']
                    dcondition = conditioned if dcondition is None else dcondition + conditioned
            if condition:
                dcondition = tf.zeros_like(condition[0]) if dcondition is None else dcondition
            inputs = [dz] + ([dcondition] if condition else [])
            return inputs, [by_variable.get(v.ref()) for v in variables or []]

        return (output, log_det), gradient

    return block(z, *condition)


def run_layers(layers, z, conditional_input=None, memory_saving: str = 'none'):
    """`(z, log_det)` after the bijectors `layers` (in order), with `memory_saving`
    (`'none'`, `'recompute'` or `'invert'`, see the module docstring) for the backward pass.

    `conditional_input` reaches the half-affine layers (couplings) as their `conditional_input`.
    """
    if memory_saving not in MEMORY_SAVING:
        raise ValueError(f'memory_saving must be one of {MEMORY_SAVING}; got {memory_saving!r}.')
    if conditional_input is not None:
        conditional_input = tf.convert_to_tensor(conditional_input, z.dtype)
    if memory_saving == 'recompute':
        return _recompute(layers, z, conditional_input)
    if memory_saving == 'invert':
        return _invert(layers, z, conditional_input)
    return _forward(layers, z, conditional_input)
