"""One guarded, distributed optimizer step, and the optimizer it takes (for `tfglow.train`).

One step, under any `tf.distribute` strategy:

```none
loss, metrics = task.loss(model, batch)     per example (bits/dim), averaged over the global batch
grads = all_reduce_sum(d loss / d weights)  the global-batch gradient
if loss and grads are finite: optimizer step, EMA update       else: skip (the caller counts it)
```
"""

import keras
import ml_collections
import tensorflow as tf

from tfglow.ema import ExponentialMovingAverage

__all__ = ['LinearWarmup', 'make_optimizer', 'make_train_step']


class LinearWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """openai/glow's warmup: `lr * min(1, (step + 1) / warmup_steps)`, then constant.

    openai/glow scales by images seen over ten epochs' worth of images, so its very first step has a
    learning rate of 0; counting from `step + 1` makes that first step a small real update instead.
    `step` is the optimizer's update count, so skipped (non-finite) steps do not advance the warmup.
    """

    def __init__(self, learning_rate: float, warmup_steps: int):
        self.learning_rate = float(learning_rate)
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step):
        if self.warmup_steps <= 0:
            return tf.constant(self.learning_rate, tf.float32)
        progress = (tf.cast(step, tf.float32) + 1.0) / float(self.warmup_steps)
        return self.learning_rate * tf.minimum(1.0, progress)

    def get_config(self) -> dict:
        return {'learning_rate': self.learning_rate, 'warmup_steps': self.warmup_steps}


def make_optimizer(config: ml_collections.ConfigDict) -> keras.optimizers.Optimizer:
    """Adamax or Adam (`config.optimizer`) with `config.beta1/beta2` and the linear warmup."""
    kwargs = dict(
        learning_rate=LinearWarmup(config.learning_rate, config.warmup_steps),
        beta_1=config.beta1,
        beta_2=config.beta2,
        epsilon=1e-8,  # openai/glow's value.
    )
    if config.optimizer == 'adamax':
        return keras.optimizers.Adamax(**kwargs)
    if config.optimizer == 'adam':
        return keras.optimizers.Adam(**kwargs)
    raise ValueError(f"Unknown optimizer {config.optimizer!r}; expected 'adamax' or 'adam'.")


def make_train_step(
    model,
    loss_fn,
    optimizer: keras.optimizers.Optimizer,
    ema: ExponentialMovingAverage,
    strategy: tf.distribute.Strategy,
    *,
    global_batch_size: int,
    grad_clip_norm: float = 0.0,
):
    """Returns `step(distributed_batch, stop) -> metrics`, one guarded optimizer step.

    Wrap it in `tf.function`. `loss_fn(model, batch) -> (loss [B], {name: [B]})` gives the
    per-example loss and metrics of one replica's batch (`tfglow.tasks.Task.loss`). `stop` is a
    float scalar, > 0 where this process wants to stop (SIGTERM); it is summed over replicas so
    every worker sees the same `metrics['stop']`. The metrics are averaged over the global batch
    and all-reduced over replicas: `loss_fn`'s metrics, `loss`, `grad_norm` (before clipping), `ok`
    (loss and gradients finite: the update was applied) and `stop`.
    """
    variables = list(model.trainable_variables)

    def replica_step(batch, stop):
        with tf.GradientTape() as tape:
            loss, metrics = loss_fn(model, batch)
            loss = tf.nn.compute_average_loss(loss, global_batch_size=global_batch_size)
        grads = tape.gradient(loss, variables, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        metrics = {
            name: tf.nn.compute_average_loss(value, global_batch_size=global_batch_size)
            for name, value in metrics.items()
        }
        ctx = tf.distribute.get_replica_context()
        grads = ctx.all_reduce(tf.distribute.ReduceOp.SUM, grads)
        # tf.identity places the captured `stop` on this replica's device, which all_reduce needs.
        reduced = ctx.all_reduce(tf.distribute.ReduceOp.SUM, [loss, metrics, tf.identity(stop)])
        loss, metrics, stop = reduced
        grad_norm = tf.linalg.global_norm(grads)
        ok = tf.math.is_finite(loss) & tf.math.is_finite(grad_norm)
        if grad_clip_norm > 0:
            grads, _ = tf.clip_by_global_norm(grads, grad_clip_norm, use_norm=grad_norm)
        metrics.update(loss=loss, grad_norm=grad_norm, ok=ok, stop=stop > 0)
        return grads, metrics

    def apply_update(grads):
        # The update runs in cross-replica context, inside tf.cond: `optimizer.apply` would go
        # through merge_call (unsupported inside control flow under MirroredStrategy) and all-reduce
        # the already-reduced gradients again, so each replica's copy is updated directly with the
        # optimizer's own `update_step`, as Keras does after its all-reduce.
        learning_rate = optimizer.learning_rate
        for grad, variable in zip(grads, variables, strict=True):
            strategy.extended.update(
                variable,
                lambda var, g: optimizer.update_step(g, var, tf.cast(learning_rate, var.dtype)),
                args=(grad,),
                group=False,
            )
        optimizer.iterations.assign_add(1)
        ema.update()
        return tf.constant(True)

    def step(batch, stop):
        with strategy.scope():
            grads, metrics = strategy.run(replica_step, args=(batch, stop))
            # All-reduced, hence equal on every replica: any local copy will do.
            metrics = {k: strategy.experimental_local_results(v)[0] for k, v in metrics.items()}
            tf.cond(metrics['ok'], lambda: apply_update(grads), lambda: tf.constant(False))
        return metrics

    return step
