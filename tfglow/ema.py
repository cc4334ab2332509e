"""Polyak / exponential moving average of model weights, swapped in for evaluation and export."""

import contextlib
from collections.abc import Iterator, Sequence

import tensorflow as tf

__all__ = ['ExponentialMovingAverage']


class ExponentialMovingAverage(tf.Module):
    """Shadow copies of `variables` that follow them with an exponential moving average.

    ```none
    decay_t = min(decay, (1 + t) / (10 + t))       t = number of updates so far
    shadow <- decay_t * shadow + (1 - decay_t) * variable
    ```

    The `(1 + t) / (10 + t)` cap (as in `tf.train.ExponentialMovingAverage(num_updates=...)`) lets
    the average track the weights closely early on, so a short run's averaged model is not stuck
    near its initialisation; openai/glow's Polyak average used zero-debiasing for the same reason.

    Create it inside `strategy.scope()` (the shadows are then mirrored like the weights) after the
    model's variables exist, and put it in the checkpoint. Call its methods outside `strategy.run`
    (eagerly or in cross-replica context). Call `reset()` after a data-dependent
    init so the average starts from the initialised weights.

    Args:
      variables: the variables to average (usually `model.trainable_variables`).
      decay: the long-run decay, in [0, 1).
      name: Default value: 'ema'.

    #### Examples

    ```python
    ema = ExponentialMovingAverage(model.trainable_variables, decay=0.999)
    ...  # after each optimizer step
    ema.update()
    with ema.averaged():
      evaluate(model)
    ```
    """

    def __init__(self, variables: Sequence[tf.Variable], decay: float, name: str = 'ema'):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f'EMA decay must be in [0, 1); got {decay}.')
        super().__init__(name=name)
        self.decay = float(decay)
        self._variables = tuple(variables)
        self._strategy = tf.distribute.get_strategy()
        with self.name_scope:
            self.shadows = [
                tf.Variable(
                    v.read_value(), trainable=False, name=v.name.split(':')[0].replace('/', '_')
                )
                for v in self._variables
            ]
            self.num_updates = tf.Variable(0, dtype=tf.int64, trainable=False, name='num_updates')

    def _for_each(self, fn, shadows_first: bool = True) -> None:
        # extended.update applies `fn` to each replica's copy with the matching copy of the other
        # variable, so mirrored shadows and weights stay paired device by device. It must be the
        # strategy the variables were made under, whatever scope the caller is in.
        with self._strategy.scope():
            for variable, shadow in zip(self._variables, self.shadows, strict=True):
                if shadows_first:
                    self._strategy.extended.update(shadow, fn, args=(variable,))
                else:
                    self._strategy.extended.update(variable, fn, args=(shadow,))

    def update(self) -> None:
        """Moves every shadow towards its variable."""
        count = tf.cast(self.num_updates, tf.float32)
        decay = tf.minimum(self.decay, (1.0 + count) / (10.0 + count))
        self._for_each(lambda shadow, var: shadow.assign_sub((1.0 - decay) * (shadow - var)))
        self.num_updates.assign_add(1)

    def reset(self) -> None:
        """Sets every shadow to its variable's current value and the update count to 0."""
        self._for_each(lambda shadow, var: shadow.assign(var))
        self.num_updates.assign(0)

    def swap(self) -> None:
        """Exchanges the values of the variables and their shadows (its own inverse)."""

        def exchange(var, shadow):
            value = tf.identity(var)
            var.assign(shadow)
            shadow.assign(value)

        self._for_each(exchange, shadows_first=False)

    @contextlib.contextmanager
    def averaged(self) -> Iterator[None]:
        """Context in which the variables hold their averages; trained values come back on exit."""
        self.swap()
        try:
            yield
        finally:
            self.swap()
