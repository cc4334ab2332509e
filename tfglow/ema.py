"""Polyak / exponential moving average of model weights, swapped in for evaluation and export."""

import contextlib
from collections.abc import Iterator, Sequence

import tensorflow as tf

__all__ = ['ExponentialMovingAverage']


class ExponentialMovingAverage(tf.Module):
    """`tf.train.ExponentialMovingAverage` of fixed variables, checkpointable and swappable.

    ```none
    decay_t = min(decay, (1 + t) / (10 + t))       t = number of updates so far
    shadow <- shadow - (1 - decay_t) * (shadow - variable)
    ```

    The averaging is TensorFlow's (`num_updates=t`), which handles mirrored variables under any
    `tf.distribute` strategy. This module adds what it lacks: the shadows and `t` as tracked
    variables (so a checkpoint holds them, as `ema/shadows/<i>` and `ema/num_updates`), `reset`
    after a data-dependent init, and `averaged()`, which swaps the averages into the variables.

    The `(1 + t) / (10 + t)` cap lets the average track the weights closely early on, so a short
    run's averaged model is not stuck near its initialisation; openai/glow's Polyak average used
    zero-debiasing for the same reason.

    Create it inside `strategy.scope()` (the shadows are then mirrored like the weights) after the
    model's variables exist, and put it in the checkpoint. Call its methods outside `strategy.run`
    (eagerly or in cross-replica context). Call `reset()` after a data-dependent init so the
    average starts from the initialised weights.

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
            self.num_updates = tf.Variable(0, dtype=tf.int64, trainable=False, name='num_updates')
            self._average = tf.train.ExponentialMovingAverage(
                self.decay, num_updates=self.num_updates
            )
            # The first `apply` creates each shadow as a copy of its variable; its update then
            # leaves the copy unchanged (decay_0 = 0.1 moves it by 0.9 * (v - v) = 0).
            with self._strategy.scope():
                self._average.apply(self._variables)
        self.shadows = [self._average.average(v) for v in self._variables]

    def update(self) -> None:
        """Moves every shadow towards its variable."""
        with self._strategy.scope():
            self._average.apply(self._variables)
        self.num_updates.assign_add(1)

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

    def copy_to_variables(self) -> None:
        """Sets every variable to its average, for a model that only evaluates or serves."""
        self._for_each(lambda var, shadow: var.assign(shadow), shadows_first=False)

    @contextlib.contextmanager
    def averaged(self) -> Iterator[None]:
        """Context in which the variables hold their averages; trained values come back on exit."""
        self.swap()
        try:
            yield
        finally:
            self.swap()
