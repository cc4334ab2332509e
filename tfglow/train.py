"""Trains a Glow model from a config: the custom distributed loop behind `tfglow-train`.

One step, under any `tf.distribute` strategy:

```none
x     = dequantize(preprocess(images, n_bits), noise)          noise ~ U(0, 1) from the input
loss  = bits_per_dim(model.log_prob(x)) [+ weight_y * bits_y]  per example, averaged over the
                                                               global batch
grads = all_reduce_sum(d loss / d weights)                     the global-batch gradient
if loss and grads are finite: optimizer step, EMA update       else: skip, count, maybe stop
```

Data position on resume: the input pipelines are deterministic (seeded shuffle), so resuming at step
`s` skips the `s * replicas_per_pipeline` batches each pipeline already produced. Checkpoints hold
the step, not the tf.data iterator: distributed iterators cannot be checkpointed, and an iterator
checkpoint would also hold the shuffle buffer. Skipping re-reads the data without touching the
model, which takes seconds for in-memory datasets and longer for large decoded ones.

Data-dependent init: one explicit `model.initialize(...)` on the first `n_batch_init` images of a
seed-fixed, unsharded pipeline, the same batch on every worker, run in cross-replica context (so
every replica's copy gets the same values); in multi-worker training the result is then broadcast
from the first replica so that it is bitwise identical everywhere. A resumed run restores
`model.is_initialized` and skips it.
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

import tfp_flows.dequantization as dq
from tfglow import config_lib, data, distribute, evaluate, images
from tfglow.ema import ExponentialMovingAverage
from tfglow.models import glow

__all__ = [
    'LinearWarmup',
    'NonFiniteLossError',
    'glow_loss',
    'make_optimizer',
    'make_train_step',
    'train_and_evaluate',
    'train_dataset_fn',
]

# Independent random streams drawn from config.seed (evaluation noise uses stream 2).
_TRAIN_NOISE_STREAM = 0
_INIT_NOISE_STREAM = 1
# Class-conditional sample grids show at most this many classes, one per row.
_MAX_CLASS_ROWS = 10


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


def glow_loss(
    model, batch: dict, n_bits: int, *, class_conditional: bool, weight_y: float
) -> tuple[tf.Tensor, tf.Tensor]:
    """Per-example training loss and bits/dim for a batch `{'image', 'label', 'noise'}`.

    Returns:
      `(loss, bits_x)`, both `[B]`: `bits_x` is the dequantised images' bits/dim and
      `loss = bits_x + weight_y * bits_y`, with `bits_y` the class cross-entropy in bits (only for
      class-conditional models with `weight_y > 0`; otherwise `loss = bits_x`).
    """
    image = batch['image']
    num_dims = image.shape[1:].num_elements()
    x = dq.dequantize(dq.preprocess(image, n_bits), n_bits, noise=batch['noise'])
    if class_conditional and weight_y > 0:
        log_prob, logits = model.log_prob_and_class_logits(x, batch['label'])
        nats_y = tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=batch['label'], logits=logits
        )
        bits_x = dq.bits_per_dim(log_prob, num_dims, n_bits)
        return bits_x + weight_y * nats_y / math.log(2.0), bits_x
    log_prob = model.log_prob(x, label=batch['label']) if class_conditional else model.log_prob(x)
    bits_x = dq.bits_per_dim(log_prob, num_dims, n_bits)
    return bits_x, bits_x


def make_train_step(
    model,
    optimizer: keras.optimizers.Optimizer,
    ema: ExponentialMovingAverage,
    strategy: tf.distribute.Strategy,
    *,
    global_batch_size: int,
    n_bits: int,
    class_conditional: bool = False,
    weight_y: float = 0.0,
    grad_clip_norm: float = 0.0,
):
    """Returns `step(distributed_batch, stop) -> metrics`, one guarded optimizer step.

    Wrap it in `tf.function`. `stop` is a float scalar, > 0 where this process wants to stop
    (SIGTERM); it is summed over replicas so every worker sees the same `metrics['stop']`. The
    metrics are all-reduced over replicas: `loss`, `bits_per_dim`, `grad_norm` (before clipping),
    `ok` (loss and gradients finite: the update was applied) and `stop`.
    """
    variables = list(model.trainable_variables)

    def replica_step(batch, stop):
        with tf.GradientTape() as tape:
            loss, bits_x = glow_loss(
                model, batch, n_bits, class_conditional=class_conditional, weight_y=weight_y
            )
            loss = tf.nn.compute_average_loss(loss, global_batch_size=global_batch_size)
        grads = tape.gradient(loss, variables, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        bits_x = tf.nn.compute_average_loss(bits_x, global_batch_size=global_batch_size)
        ctx = tf.distribute.get_replica_context()
        grads = ctx.all_reduce(tf.distribute.ReduceOp.SUM, grads)
        # tf.identity places the captured `stop` on this replica's device, which all_reduce needs.
        reduced = ctx.all_reduce(tf.distribute.ReduceOp.SUM, [loss, bits_x, tf.identity(stop)])
        loss, bits_x, stop = reduced
        grad_norm = tf.linalg.global_norm(grads)
        ok = tf.math.is_finite(loss) & tf.math.is_finite(grad_norm)
        if grad_clip_norm > 0:
            grads, _ = tf.clip_by_global_norm(grads, grad_clip_norm, use_norm=grad_norm)
        metrics = dict(loss=loss, bits_per_dim=bits_x, grad_norm=grad_norm, ok=ok, stop=stop > 0)
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


def train_dataset_fn(config: ml_collections.ConfigDict, start_step: int = 0):
    """Returns `dataset_fn(input_context)` for `strategy.distribute_datasets_from_function`.

    Each pipeline yields per-replica batches `{'image', 'label', 'noise'}`, where `noise` is the
    U(0, 1) dequantisation noise, seeded by the batch's index in its pipeline so that the whole
    stream is a function of `config.seed`. The first `start_step` steps' batches are skipped.
    """

    def dataset_fn(input_context: tf.distribute.InputContext) -> tf.data.Dataset:
        dataset = data.make_dataset(
            config.data,
            config.data.train_split,
            config.batch_size,
            training=True,
            seed=config.seed,
            input_context=input_context,
        )
        replicas_per_pipeline = (
            input_context.num_replicas_in_sync // input_context.num_input_pipelines
        )
        base = tf.random.experimental.stateless_fold_in(
            tf.constant([config.seed, _TRAIN_NOISE_STREAM], tf.int64),
            input_context.input_pipeline_id,
        )

        def add_noise(index, batch):
            seed = tf.random.experimental.stateless_fold_in(base, index)
            return dict(
                batch, noise=tf.random.stateless_uniform(tf.shape(batch['image']), seed=seed)
            )

        dataset = dataset.enumerate().skip(start_step * replicas_per_pipeline)
        return dataset.map(add_noise, num_parallel_calls=tf.data.AUTOTUNE).prefetch(
            tf.data.AUTOTUNE
        )

    return dataset_fn


def _init_batch(config: ml_collections.ConfigDict) -> tuple[tf.Tensor, tf.Tensor]:
    """The first `n_batch_init` dequantised training images and their labels.

    The pipeline is unsharded and seeded by `config.seed` alone: every worker gets the same batch.
    """
    dataset = data.make_dataset(
        config.data, config.data.train_split, config.n_batch_init, training=True, seed=config.seed
    )
    batch = next(iter(dataset))
    n_bits = config.model.n_bits_x
    x = dq.dequantize(
        dq.preprocess(batch['image'], n_bits),
        n_bits,
        seed=tf.constant([config.seed, _INIT_NOISE_STREAM], tf.int64),
    )
    return x, batch['label']


def _sample_grids(
    model, config: ml_collections.ConfigDict, num_classes: int, class_conditional: bool
) -> dict[float, np.ndarray]:
    """One uint8 grid per `config.sample_temperatures`; one row per class when class-conditional.

    Every temperature uses the same seed, so the grids show the same latents scaled differently.
    """
    if class_conditional:
        num_rows = min(num_classes, _MAX_CLASS_ROWS)
        num_cols = math.ceil(config.num_samples / num_rows)
        label = tf.repeat(tf.range(num_rows, dtype=tf.int32), num_cols)
    else:
        num_rows = max(1, math.isqrt(config.num_samples))
        num_cols = math.ceil(config.num_samples / num_rows)
        label = None
    grids = {}
    for temperature in config.sample_temperatures:
        x = model.sample(
            num_rows * num_cols, temperature=temperature, label=label, seed=config.seed
        )
        pixels = dq.postprocess(x, config.model.n_bits_x).numpy()
        grids[float(temperature)] = images.make_grid(pixels, num_rows)
    return grids


def _check_finite(checkpoint_variables: list[tf.Variable], step: int) -> None:
    for variable in checkpoint_variables:
        if variable.dtype.is_floating and not bool(tf.reduce_all(tf.math.is_finite(variable))):
            raise NonFiniteLossError(
                f'Refusing to write a checkpoint at step {step}: variable {variable.name} holds '
                'NaN or Inf. Lower config.learning_rate, raise config.warmup_steps or set '
                'config.grad_clip_norm.'
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
        self.class_conditional = bool(config.model.class_conditional)
        logging.info(
            'Strategy %s: %d replica(s) on %d worker(s); images %s, %d classes.',
            type(strategy).__name__,
            replicas,
            distribute.num_workers(strategy),
            self.info.image_shape,
            self.info.num_classes,
        )

        with strategy.scope():
            self.model = glow.build_model(
                config.model, self.info.image_shape, self.info.num_classes, seed=config.seed
            )
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
        self.checkpoint = tf.train.Checkpoint(
            model=self.model,
            optimizer=self.optimizer,
            ema=self.ema,
            step=self.step,
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

        eval_dataset = data.make_dataset(
            config.data, config.data.eval_split, config.eval_batch_size, training=False
        )
        if config.num_eval_examples > 0:
            eval_dataset = eval_dataset.unbatch().take(config.num_eval_examples)
            eval_dataset = eval_dataset.batch(config.eval_batch_size)
        self.eval_dataset = eval_dataset
        self.evaluator = evaluate.BitsPerDimEvaluator(
            self.model,
            config.model.n_bits_x,
            strategy=strategy,
            use_labels=self.class_conditional,
            seed=config.seed,
        )

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
        if not bool(self.model.is_initialized):
            return False
        logging.info(
            'Resuming from %s at step %d; skipping the data-dependent init.',
            latest,
            self.current_step,
        )
        return True

    def _initialize(self) -> None:
        """The data-dependent init, identical on every replica and worker (see the module doc)."""
        x, label = _init_batch(self.config)
        logging.info('Data-dependent init on %d images.', x.shape[0])
        with self.strategy.scope():
            self.model.initialize(x, label=label if self.class_conditional else None)
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

    def evaluate_and_sample(self) -> tuple[float, dict[float, np.ndarray]]:
        """Eval bits/dim and sample grids with the EMA weights; saves the best checkpoint."""
        step = self.current_step
        with self.ema.averaged():
            eval_bpd = self.evaluator(self.eval_dataset)
            grids = {}
            if self.chief:
                grids = _sample_grids(
                    self.model, self.config, self.info.num_classes, self.class_conditional
                )
        with self.eval_writer.as_default(step=step):
            tf.summary.scalar('bits_per_dim', eval_bpd)
            for temperature, grid in grids.items():
                tf.summary.image(f'samples/temperature_{temperature}', grid[None])
        self.eval_writer.flush()
        is_best = eval_bpd < float(self.best_bpd.numpy())
        if is_best:
            self.best_bpd.assign(eval_bpd)
            self.save(self.best_manager)
        logging.info(
            'step %d: eval bits/dim %.4f (EMA weights)%s',
            step,
            eval_bpd,
            ' *best*' if is_best else '',
        )
        return eval_bpd, grids

    def log_progress(self, window: dict[str, list[float]], seconds: float, steps: int) -> None:
        """One progress line and the train summaries for the steps since the last one."""
        config, step = self.config, self.current_step
        mean = lambda values: float(np.mean(values)) if values else math.nan
        images_per_sec = steps * config.batch_size / max(seconds, 1e-9)
        eta = (config.num_train_steps - step) * seconds / max(steps, 1)
        learning_rate = float(self.optimizer.learning_rate)
        logging.info(
            'step %d/%d: bits/dim %.4f, lr %.3g, grad norm %.3g, %.1f images/s, ETA %s',
            step,
            config.num_train_steps,
            mean(window['bits_per_dim']),
            learning_rate,
            mean(window['grad_norm']),
            images_per_sec,
            _format_duration(eta),
        )
        with self.train_writer.as_default(step=step):
            tf.summary.scalar('bits_per_dim', mean(window['bits_per_dim']))
            tf.summary.scalar('learning_rate', learning_rate)
            tf.summary.scalar('grad_norm', mean(window['grad_norm']))
            tf.summary.scalar('images_per_sec', images_per_sec)
            tf.summary.scalar('bad_steps', int(self.bad_steps.numpy()))
        self.train_writer.flush()
        logging.flush()

    def train(self) -> bool:
        """Trains up to `config.num_train_steps`; returns False if stopped early by a signal."""
        config, strategy = self.config, self.strategy
        train_step = make_train_step(
            self.model,
            self.optimizer,
            self.ema,
            strategy,
            global_batch_size=config.batch_size,
            n_bits=config.model.n_bits_x,
            class_conditional=self.class_conditional,
            weight_y=config.model.weight_y,
            grad_clip_norm=config.grad_clip_norm,
        )

        @tf.function
        def run_step(iterator, stop):
            metrics = train_step(next(iterator), stop)
            self.step.assign_add(1)
            return metrics

        start_step = self.current_step
        dataset = strategy.distribute_datasets_from_function(train_dataset_fn(config, start_step))
        iterator = iter(dataset)
        consecutive_bad = 0
        window = {'bits_per_dim': [], 'grad_norm': []}
        window_start, window_step = time.time(), start_step
        with _StopRequest() as stop_request:
            while self.current_step < config.num_train_steps:
                metrics = run_step(iterator, tf.constant(float(stop_request.requested)))
                step = self.current_step
                if step == start_step + 1 and step % config.log_every_steps:
                    # The first step traces and compiles: leave it out of images/s and the ETA.
                    window_start, window_step = time.time(), step
                if bool(metrics['ok']):
                    consecutive_bad = 0
                    window['bits_per_dim'].append(float(metrics['bits_per_dim']))
                    window['grad_norm'].append(float(metrics['grad_norm']))
                else:
                    consecutive_bad += 1
                    self._bad_step(step, metrics, consecutive_bad)
                if step % config.log_every_steps == 0 or step == config.num_train_steps:
                    self.log_progress(window, time.time() - window_start, step - window_step)
                    window = {'bits_per_dim': [], 'grad_norm': []}
                    window_start, window_step = time.time(), step
                if bool(metrics['stop']):
                    self.save(self.manager)
                    logging.info('Stopped by a signal at step %d, checkpoint saved.', step)
                    return False
                if step % config.checkpoint_every_steps == 0:
                    self.save(self.manager)
                if step % config.eval_every_steps == 0 and step < config.num_train_steps:
                    self.evaluate_and_sample()
                    window_start = time.time()  # Evaluation time does not count in images/s.
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
        eval_bpd, grids = self.evaluate_and_sample()
        split = self.config.data.eval_split
        results = {
            'step': self.current_step,
            'eval_bits_per_dim': eval_bpd,
            'best_eval_bits_per_dim': float(self.best_bpd.numpy()),
            'eval_split': split,
            'num_eval_examples': self.config.num_eval_examples or self.info.split_sizes.get(split),
            'ema': True,
            'bad_steps': int(self.bad_steps.numpy()),
        }
        if self.chief:
            for temperature, grid in grids.items():
                images.write_png(os.path.join(self.workdir, f'samples_T{temperature}.png'), grid)
            with tf.io.gfile.GFile(os.path.join(self.workdir, 'eval_results.json'), 'w') as f:
                json.dump(results, f, indent=2)
        logging.info(
            'Done: step %d, eval bits/dim %.4f; results in %s.',
            self.current_step,
            eval_bpd,
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
