"""Trains a model from a config: the custom distributed loop behind `tfglow-train`.

The model family (`config.model.name`) is a `tfglow.tasks.Task`: it builds the model, its training
batches, the per-example loss and metrics, the evaluation and the sample grids. Everything else is
shared. One step, under any `tf.distribute` strategy:

```none
loss, metrics = task.loss(model, batch)     per example (bits/dim), averaged over the global batch
grads = all_reduce_sum(d loss / d weights)  the global-batch gradient
if loss and grads are finite: optimizer step, EMA update       else: skip, count, maybe stop
```

Data position on resume: the tasks' input pipelines are deterministic functions of the seed, so
resuming at step `s` continues each pipeline after the `s * replicas_per_pipeline` batches it
already produced. Checkpoints hold the step, not the tf.data iterator: distributed iterators
cannot be checkpointed, and an iterator checkpoint would also hold the shuffle buffer.

Data-dependent init: one explicit `task.initialize(model)` (e.g. Glow's ActNorm init on the first
`n_batch_init` images of a seed-fixed, unsharded pipeline, the same batch on every worker), run in
cross-replica context (so every replica's copy gets the same values); in multi-worker training the
result is then broadcast from the first replica so that it is bitwise identical everywhere. A
resumed run restores the model's initialised state and skips it.
"""

import json
import math
import os
import signal
import sys
import threading
import time

import keras
import ml_collections
import numpy as np
import tensorflow as tf
from absl import logging

from tfglow import config_lib, data, distribute, images, tasks, trained
from tfglow.ema import ExponentialMovingAverage

__all__ = [
    'LinearWarmup',
    'NonFiniteLossError',
    'make_optimizer',
    'make_train_step',
    'train_and_evaluate',
]

# How the metrics read in the progress log.
_METRIC_LABELS = {'bits_per_dim': 'bits/dim', 'nats_per_image': 'nats/image'}


class NonFiniteLossError(RuntimeError):
    """Training produced non-finite losses, gradients or weights and cannot continue."""


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


def _check_finite(checkpoint_variables: list[tf.Variable], step: int) -> None:
    for variable in checkpoint_variables:
        if variable.dtype.is_floating and not bool(tf.reduce_all(tf.math.is_finite(variable))):
            raise NonFiniteLossError(
                f'Refusing to write a checkpoint at step {step}: variable {variable.name} holds '
                'NaN or Inf. Lower config.learning_rate, raise config.warmup_steps or set '
                'config.grad_clip_norm.'
            )


def _format_metrics(metrics: dict[str, float]) -> str:
    """`'bits/dim 1.2345, nats/image 678.9012'`."""
    return ', '.join(
        f'{_METRIC_LABELS.get(name, name)} {value:.4f}' for name, value in metrics.items()
    )


def _format_duration(seconds: float) -> str:
    seconds = int(max(0.0, seconds))
    return f'{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}'


class _StopRequest:
    """Records SIGTERM so the loop can save a checkpoint and exit cleanly."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def __enter__(self):
        # Signal handlers can only be installed from the main thread (not in some test runners).
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._handle)
        return self

    def _handle(self, signum, frame):
        del frame
        logging.warning(
            'Received signal %d: saving a checkpoint after this step, then exiting.', signum
        )
        self.requested = True

    def __exit__(self, *exc_info):
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)


class _Run:
    """The state of one `train_and_evaluate` call: strategy, model, checkpoints, writers, loop."""

    def __init__(self, config: ml_collections.ConfigDict, workdir: str):
        config_lib.validate_config(config)
        # Multi-worker and TPU strategies configure the TF runtime: they come before any TF op.
        self.strategy = strategy = distribute.get_strategy(config.strategy)
        replicas = strategy.num_replicas_in_sync
        distribute.check_divisible(config.batch_size, replicas, 'batch_size')
        distribute.check_divisible(config.eval_batch_size, replicas, 'eval_batch_size')
        tf.random.set_seed(config.seed)
        self.config, self.workdir = config, workdir
        self.chief = distribute.is_chief(strategy)
        if self.chief:
            tf.io.gfile.makedirs(workdir)
            config_lib.write_config(config, workdir)
        self.info = data.get_info(config.data)
        config_lib.validate_config(config, self.info.image_shape)
        self.task = tasks.get_task(config, self.info)
        logging.info(
            'Strategy %s: %d replica(s) on %d worker(s); images %s, %d classes.',
            type(strategy).__name__,
            replicas,
            distribute.num_workers(strategy),
            self.info.image_shape,
            self.info.num_classes,
        )

        with strategy.scope():
            self.model = self.task.build_model()
            self.optimizer = make_optimizer(config)
            self.optimizer.build(self.model.trainable_variables)
            self.ema = ExponentialMovingAverage(self.model.trainable_variables, config.ema_decay)
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name='step')
            self.bad_steps = tf.Variable(0, dtype=tf.int64, trainable=False, name='bad_steps')
            # The largest float, not inf, before the first evaluation: checkpoints hold only
            # finite values.
            self.best_bpd = tf.Variable(
                sys.float_info.max, dtype=tf.float64, trainable=False, name='best_bits_per_dim'
            )
        # The layout tfglow.trained.restore_run reads back (model, EMA, step), plus what only
        # resuming needs.
        self.checkpoint = trained.training_checkpoint(
            self.model,
            self.ema,
            self.step,
            optimizer=self.optimizer,
            bad_steps=self.bad_steps,
            best_bits_per_dim=self.best_bpd,
        )
        self.checkpoint_dir = os.path.join(workdir, 'checkpoints')
        self.resumed = self._restore()
        if not self.resumed:
            self._initialize()

        self._write_dirs = [
            distribute.worker_dir(self.checkpoint_dir, strategy),
            distribute.worker_dir(os.path.join(workdir, 'best'), strategy),
        ]
        self.manager = tf.train.CheckpointManager(
            self.checkpoint,
            self._write_dirs[0],
            max_to_keep=config.keep_checkpoints,
            step_counter=self.step,
        )
        self.best_manager = tf.train.CheckpointManager(
            self.checkpoint, self._write_dirs[1], max_to_keep=1
        )
        self.saved_step = self.current_step if self.resumed else -1
        if self.chief:
            self.train_writer = tf.summary.create_file_writer(os.path.join(workdir, 'train'))
            self.eval_writer = tf.summary.create_file_writer(os.path.join(workdir, 'eval'))
        else:
            self.train_writer = self.eval_writer = tf.summary.create_noop_writer()

        self.evaluate = self.task.make_evaluator(self.model, strategy)

    @property
    def current_step(self) -> int:
        return int(self.step.numpy())

    def _restore(self) -> bool:
        """Restores the latest checkpoint, if any; returns whether the run resumes from one."""
        latest = tf.train.latest_checkpoint(self.checkpoint_dir)
        if not latest:
            return False
        try:
            self.checkpoint.restore(latest).assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.OpError) as e:
            raise ValueError(
                f'Cannot resume from {latest}: it does not match the model and optimizer built '
                f'from this config (did the config change? use a fresh --workdir). Details: {e}'
            ) from e
        if not self.task.is_initialized(self.model):
            return False
        logging.info(
            'Resuming from %s at step %d; skipping the data-dependent init.',
            latest,
            self.current_step,
        )
        return True

    def _initialize(self) -> None:
        """The data-dependent init, identical on every replica and worker (see the module doc)."""
        with self.strategy.scope():
            self.task.initialize(self.model)
        if distribute.num_workers(self.strategy) > 1:
            distribute.broadcast_from_first_replica(self.strategy, self.model.variables)
        self.ema.reset()

    def save(self, manager: tf.train.CheckpointManager) -> None:
        """Saves the training state with `manager`, refusing if any value is NaN or Inf."""
        optimizer_variables = [getattr(v, 'value', v) for v in self.optimizer.variables]
        variables = [*self.model.variables, *self.ema.variables, *optimizer_variables]
        _check_finite(variables, self.current_step)
        manager.save(checkpoint_number=self.current_step)
        if manager is self.manager:
            self.saved_step = self.current_step
            logging.info(
                'Saved checkpoint at step %d in %s.', self.current_step, self.checkpoint_dir
            )

    def evaluate_and_sample(self) -> tuple[dict[str, float], dict[float, np.ndarray]]:
        """Eval metrics and sample grids with the EMA weights; saves the best checkpoint."""
        step = self.current_step
        with self.ema.averaged():
            metrics = self.evaluate()
            grids = self.task.sample_grids(self.model) if self.chief else {}
        with self.eval_writer.as_default(step=step):
            for name, value in metrics.items():
                tf.summary.scalar(name, value)
            for temperature, grid in grids.items():
                tf.summary.image(f'samples/temperature_{temperature}', grid[None])
        self.eval_writer.flush()
        eval_bpd = metrics['bits_per_dim']
        is_best = eval_bpd < float(self.best_bpd.numpy())
        if is_best:
            self.best_bpd.assign(eval_bpd)
            self.save(self.best_manager)
        logging.info(
            'step %d: eval %s (EMA weights)%s',
            step,
            _format_metrics(metrics),
            ' *best*' if is_best else '',
        )
        return metrics, grids

    def log_progress(self, window: dict[str, list[float]], seconds: float, steps: int) -> None:
        """One progress line and the train summaries for the steps since the last one."""
        config, step = self.config, self.current_step
        means = {
            name: float(np.mean(values)) if values else math.nan for name, values in window.items()
        }
        examples_per_sec = steps * config.batch_size / max(seconds, 1e-9)
        unit = self.task.example_unit
        eta = (config.num_train_steps - step) * seconds / max(steps, 1)
        learning_rate = float(self.optimizer.learning_rate)
        metrics = {name: means[name] for name in self.task.metric_names}
        logging.info(
            'step %d/%d: %s, lr %.3g, grad norm %.3g, %.1f %s/s, ETA %s',
            step,
            config.num_train_steps,
            _format_metrics(metrics),
            learning_rate,
            means['grad_norm'],
            examples_per_sec,
            unit,
            _format_duration(eta),
        )
        with self.train_writer.as_default(step=step):
            for name, value in metrics.items():
                tf.summary.scalar(name, value)
            tf.summary.scalar('learning_rate', learning_rate)
            tf.summary.scalar('grad_norm', means['grad_norm'])
            tf.summary.scalar(f'{unit}_per_sec', examples_per_sec)
            tf.summary.scalar('bad_steps', int(self.bad_steps.numpy()))
        self.train_writer.flush()
        logging.flush()

    def train(self) -> bool:
        """Trains up to `config.num_train_steps`; returns False if stopped early by a signal."""
        config, strategy, task = self.config, self.strategy, self.task
        train_step = make_train_step(
            self.model,
            task.loss,
            self.optimizer,
            self.ema,
            strategy,
            global_batch_size=config.batch_size,
            grad_clip_norm=config.grad_clip_norm,
        )

        @tf.function
        def run_step(iterator, stop):
            metrics = train_step(next(iterator), stop)
            self.step.assign_add(1)
            return metrics

        start_step = self.current_step
        dataset = strategy.distribute_datasets_from_function(
            lambda context: task.train_dataset(context, start_step).prefetch(tf.data.AUTOTUNE)
        )
        iterator = iter(dataset)
        consecutive_bad = 0
        logged = (*task.metric_names, 'grad_norm')
        window = {name: [] for name in logged}
        window_start, window_step = time.time(), start_step
        with _StopRequest() as stop_request:
            while self.current_step < config.num_train_steps:
                metrics = run_step(iterator, tf.constant(float(stop_request.requested)))
                step = self.current_step
                if step == start_step + 1 and step % config.log_every_steps:
                    # The first step traces and compiles: leave it out of the throughput and ETA.
                    window_start, window_step = time.time(), step
                if bool(metrics['ok']):
                    consecutive_bad = 0
                    for name in logged:
                        window[name].append(float(metrics[name]))
                else:
                    consecutive_bad += 1
                    self._bad_step(step, metrics, consecutive_bad)
                if step % config.log_every_steps == 0 or step == config.num_train_steps:
                    self.log_progress(window, time.time() - window_start, step - window_step)
                    window = {name: [] for name in logged}
                    window_start, window_step = time.time(), step
                if bool(metrics['stop']):
                    self.save(self.manager)
                    logging.info('Stopped by a signal at step %d, checkpoint saved.', step)
                    return False
                if step % config.checkpoint_every_steps == 0:
                    self.save(self.manager)
                if step % config.eval_every_steps == 0 and step < config.num_train_steps:
                    self.evaluate_and_sample()
                    window_start = time.time()  # Evaluation time does not count in the throughput.
        return True

    def _bad_step(self, step: int, metrics: dict, consecutive: int) -> None:
        """Logs and counts a skipped step; raises after too many in a row."""
        self.bad_steps.assign_add(1)
        logging.warning(
            'step %d: non-finite loss or gradients (loss %s, grad norm %s); update skipped '
            '(%d in a row, %d in total).',
            step,
            float(metrics['loss']),
            float(metrics['grad_norm']),
            consecutive,
            int(self.bad_steps.numpy()),
        )
        if consecutive >= self.config.max_consecutive_bad_steps:
            raise NonFiniteLossError(
                f'Stopping at step {step}: {consecutive} consecutive steps had non-finite loss or '
                'gradients, so the weights were left unchanged and no checkpoint was written for '
                'them. Lower config.learning_rate, raise config.warmup_steps, set '
                'config.grad_clip_norm, or check the data. Last checkpoint: '
                f'{self.manager.latest_checkpoint}.'
            )

    def finish(self) -> dict:
        """Final checkpoint, evaluation, PNG sample grids and eval_results.json."""
        if self.saved_step != self.current_step:
            self.save(self.manager)
        metrics, grids = self.evaluate_and_sample()
        results = {
            'step': self.current_step,
            **{f'eval_{name}': value for name, value in metrics.items()},
            'best_eval_bits_per_dim': float(self.best_bpd.numpy()),
            **self.task.evaluation_details(),
            'ema': True,
            'bad_steps': int(self.bad_steps.numpy()),
        }
        if self.chief:
            for temperature, grid in grids.items():
                images.write_png(os.path.join(self.workdir, f'samples_T{temperature}.png'), grid)
            with tf.io.gfile.GFile(os.path.join(self.workdir, 'eval_results.json'), 'w') as f:
                json.dump(results, f, indent=2)
        logging.info(
            'Done: step %d, eval %s; results in %s.',
            self.current_step,
            _format_metrics(metrics),
            self.workdir,
        )
        return results

    def close(self) -> None:
        for directory in self._write_dirs:
            distribute.remove_worker_dir(directory, self.strategy)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """Trains `config`'s model, evaluating it and writing checkpoints and summaries under `workdir`.

    Writes `workdir/config.*` (the resolved config), `workdir/checkpoints` (the latest
    `config.keep_checkpoints` training states), `workdir/best` (the state with the best eval
    bits/dim), TensorBoard events in `workdir/train` and `workdir/eval`, and at the end
    `workdir/samples_T*.png` and `workdir/eval_results.json`. Resumes from the latest checkpoint in
    `workdir` if there is one. In multi-worker training only the chief writes them.

    Returns:
      The dict written to `eval_results.json`, or `{'step': ..., 'stopped': True}` after SIGTERM.

    Raises:
      ValueError: for invalid config values or a checkpoint that does not match the config.
      NonFiniteLossError: after `config.max_consecutive_bad_steps` consecutive non-finite steps.
    """
    run = _Run(config, workdir)
    try:
        if not run.train():
            return {'step': run.current_step, 'stopped': True}
        return run.finish()
    finally:
        run.close()
