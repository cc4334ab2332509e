"""Trains a model from a config: the custom distributed loop behind `tfglow-train`.

The model family (`config.model.name`) is a `tfglow.tasks.Task`: it builds the model, its training
batches, the per-example loss and metrics, the evaluation and the sample grids. Everything else is
shared. One step is `tfglow.train_step.make_train_step`: an optimizer and EMA update when the loss
and gradients are finite, else a skipped step, counted; too many in a row stop the run.

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
import time

import ml_collections
import numpy as np
import tensorflow as tf
from absl import logging

from tfglow import config_lib, data, distribute, images, run_guard, tasks, trained
from tfglow.ema import ExponentialMovingAverage
from tfglow.train_step import make_optimizer, make_train_step

__all__ = [
    'NonFiniteLossError',
    'TrainingInterrupted',
    'WorkdirInUseError',
    'WorkerLostError',
    'train_and_evaluate',
]

# Re-exported: the errors `train_and_evaluate` raises.
TrainingInterrupted = run_guard.TrainingInterrupted
WorkdirInUseError = run_guard.WorkdirInUseError
WorkerLostError = run_guard.WorkerLostError

# How the metrics read in the progress log.
_METRIC_LABELS = {'bits_per_dim': 'bits/dim', 'nats_per_image': 'nats/image'}


class NonFiniteLossError(RuntimeError):
    """Training produced non-finite losses, gradients or weights and cannot continue."""


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


def _eta(
    config: ml_collections.ConfigDict, step: int, step_seconds: float, eval_seconds: float | None
) -> str:
    """Time left after `step`: the steps at `step_seconds` each, and the evaluations to come.

    The evaluations are those at multiples of `eval_every_steps` from `step` on (one at `step`
    itself runs after its progress line) and the final one, each as long as the last one
    (`eval_seconds`; None before the first, which leaves them out and says so).
    """
    train_seconds = (config.num_train_steps - step) * step_seconds
    every = config.eval_every_steps
    evaluations = (config.num_train_steps - 1) // every - (step - 1) // every + 1
    if eval_seconds is None:
        return f'{_format_duration(train_seconds)} + {evaluations} evaluation(s) not yet timed'
    return _format_duration(train_seconds + evaluations * eval_seconds)


class _Run:
    """The state of one `train_and_evaluate` call: strategy, model, checkpoints, writers, loop."""

    def __init__(
        self, config: ml_collections.ConfigDict, workdir: str, allow_config_change: bool = False
    ):
        config_lib.validate_config(config)
        # Multi-worker and TPU strategies configure the TF runtime: they come before any TF op.
        self.strategy = strategy = distribute.get_strategy(config.strategy)
        replicas = strategy.num_replicas_in_sync
        distribute.check_divisible(config.batch_size, replicas, 'batch_size')
        distribute.check_divisible(config.eval_batch_size, replicas, 'eval_batch_size')
        tf.random.set_seed(config.seed)
        self.config, self.workdir = config, workdir
        self.chief = distribute.is_chief(strategy)
        self.checkpoint_dir = os.path.join(workdir, 'checkpoints')
        config_changes = self._check_config_change(allow_config_change)
        if self.chief:
            tf.io.gfile.makedirs(workdir)
            config_lib.write_config(config, workdir)
            if config_changes:
                config_lib.append_config_history(workdir, *config_changes)
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
        self.eval_seconds = None  # How long the last evaluation took, for the ETA.

    @property
    def current_step(self) -> int:
        return int(self.step.numpy())

    def _check_config_change(self, allow: bool) -> tuple[int, dict] | None:
        """The checkpoint's step and how the config differs from its `config.json`, if it does.

        Checked before anything is built, so that a changed setting fails in a second; see
        `config_lib.check_resume_config` for what may change without `allow`.
        """
        latest = tf.train.latest_checkpoint(self.checkpoint_dir)
        saved_path = os.path.join(self.workdir, config_lib.CONFIG_FILENAME)
        if not latest or not tf.io.gfile.exists(saved_path):
            return None
        step = int(tf.train.load_variable(latest, 'step/.ATTRIBUTES/VARIABLE_VALUE'))
        saved = config_lib.read_config(saved_path)
        changes = config_lib.check_resume_config(saved, self.config, step, allow_changes=allow)
        if not changes:
            return None
        logging.info(
            'Resuming at step %d with config changes: %s.',
            step,
            config_lib.format_differences(changes),
        )
        return step, changes

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
        start = time.time()
        with self.ema.averaged():
            metrics = self.evaluate()
            grids = self.task.sample_grids(self.model) if self.chief else {}
        self.eval_seconds = time.time() - start
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
        eta = _eta(config, step, seconds / max(steps, 1), self.eval_seconds)
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
            eta,
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

    def train(self, stop_request: run_guard.StopRequest) -> None:
        """Trains up to `config.num_train_steps`.

        Raises:
          TrainingInterrupted: after saving a checkpoint, when `stop_request` got a signal (on
            any worker).
          NonFiniteLossError: see `_bad_step`.
        """
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
        # The step of the last applied update: checkpoints from it on hold weights that no step
        # has yet shown to give a finite loss (see `_bad_step`).
        self.updated_step = start_step
        self.restored_step = self.saved_step
        dataset = strategy.distribute_datasets_from_function(
            lambda context: task.train_dataset(context, start_step).prefetch(tf.data.AUTOTUNE)
        )
        iterator = iter(dataset)
        consecutive_bad = 0
        logged = (*task.metric_names, 'grad_norm')
        window = {name: [] for name in logged}
        window_start, window_step = time.time(), start_step
        while self.current_step < config.num_train_steps:
            metrics = run_step(iterator, tf.constant(float(stop_request.signum)))
            step = self.current_step
            if step == start_step + 1 and step % config.log_every_steps:
                # The first step traces and compiles: leave it out of the throughput and ETA.
                window_start, window_step = time.time(), step
            if bool(metrics['ok']):
                consecutive_bad = 0
                self.updated_step = step
                for name in logged:
                    window[name].append(float(metrics[name]))
            else:
                consecutive_bad += 1
                self._bad_step(step, metrics, consecutive_bad)
            if step % config.log_every_steps == 0 or step == config.num_train_steps:
                self.log_progress(window, time.time() - window_start, step - window_step)
                window = {name: [] for name in logged}
                window_start, window_step = time.time(), step
            if bool(metrics['stop']) and step < config.num_train_steps:
                self._stop(step, stop_request.signum)
            # Evaluation first, so that a checkpoint of the same step holds its best bits/dim.
            if step % config.eval_every_steps == 0 and step < config.num_train_steps:
                self.evaluate_and_sample()
                window_start = time.time()  # Evaluation time does not count in the throughput.
            # Without an update since the last save there is nothing new to keep, and another
            # copy of unverified weights could rotate the last verified checkpoint out.
            if step % config.checkpoint_every_steps == 0 and self.updated_step > self.saved_step:
                self.save(self.manager)

    def _stop(self, step: int, signum: int) -> None:
        """Saves a checkpoint and raises `TrainingInterrupted`, after a signal on any worker."""
        self.save(self.manager)
        # A worker that got no signal itself stops because another one did, e.g. on preemption.
        source = signal.Signals(signum).name if signum else 'a signal to another worker'
        message = (
            f'Stopped by {source} at step {step} of {self.config.num_train_steps}, checkpoint '
            f'saved in {self.checkpoint_dir}; rerun the same command to resume.'
        )
        logging.info('%s', message)
        raise TrainingInterrupted(signum or signal.SIGTERM, message)

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
            # A checkpoint saved at step s holds the weights after the last update up to s; the
            # next finite step shows them sound. Those saved from the last update on were
            # followed by non-finite steps only: resuming from them would fail again. A restored
            # checkpoint stays: the run that wrote it went on past it.
            removed = run_guard.remove_checkpoints(
                self.manager, lambda at: at >= self.updated_step and at > self.restored_step
            )
            latest = tf.train.latest_checkpoint(self.checkpoint_dir)
            resume = (
                f'a rerun resumes from {latest}, the last checkpoint whose weights gave a finite '
                'loss after it'
                if latest
                else 'no checkpoint whose weights gave a finite loss after it is left, so a rerun '
                'starts from scratch'
            )
            raise NonFiniteLossError(
                f'Stopping at step {step}: {consecutive} consecutive steps had non-finite loss or '
                f'gradients after the update of step {self.updated_step}'
                + (f' (removed its checkpoint(s) {", ".join(removed)})' if removed else '')
                + f'; {resume}. Lower config.learning_rate, raise config.warmup_steps, set '
                'config.grad_clip_norm (changes a resumed run takes with --allow_config_change), '
                'or check the data.'
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
                factor = images.upscale_factor(self.config.sample_upscale, self.task.image_shape[0])
                path = os.path.join(self.workdir, f'samples_T{temperature}.png')
                images.write_png(path, images.upscale(grid, factor))
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


def train_and_evaluate(
    config: ml_collections.ConfigDict, workdir: str, *, allow_config_change: bool = False
) -> dict:
    """Trains `config`'s model, evaluating it and writing checkpoints and summaries under `workdir`.

    Writes `workdir/config.*` (the resolved config), `workdir/checkpoints` (the latest
    `config.keep_checkpoints` training states), `workdir/best` (the state with the best eval
    bits/dim), TensorBoard events in `workdir/train` and `workdir/eval`, and at the end
    `workdir/samples_T*.png` and `workdir/eval_results.json`. Resumes from the latest checkpoint in
    `workdir` if there is one, refusing a config that differs from the run's `config.json` in
    anything that changes what is trained unless `allow_config_change` (accepted changes are
    recorded in `workdir/config_history.json`). In multi-worker training only the chief writes
    them. The writing process holds `workdir/.lock` throughout (`tfglow.run_guard.workdir_lock`).

    Returns:
      The dict written to `eval_results.json`.

    Raises:
      ValueError: for invalid config values or a checkpoint that does not match the config.
      WorkdirInUseError: while another run holds `workdir`'s lock.
      TrainingInterrupted: on SIGTERM or SIGINT, after saving a checkpoint.
      NonFiniteLossError: after `config.max_consecutive_bad_steps` consecutive non-finite steps.
      WorkerLostError: when a multi-worker peer goes away.
    """
    chief = distribute.is_chief_task(config.strategy)
    with run_guard.workdir_lock(workdir, enabled=chief), run_guard.StopRequest() as stop_request:
        try:
            run = _Run(config, workdir, allow_config_change)
            try:
                run.train(stop_request)
                return run.finish()
            finally:
                run.close()
        except tf.errors.UnavailableError as e:
            # The collectives' health check ends every worker's ops once a peer stops answering.
            task, cluster = distribute.task_from_environment()
            lost = run_guard.lost_worker(e, cluster, task)
            # No save now: the collectives are aborted, and a multi-worker save may need them.
            checkpoint = tf.train.latest_checkpoint(os.path.join(workdir, 'checkpoints'))
            kept = f'the last checkpoint is {checkpoint}' if checkpoint else 'no checkpoint yet'
            raise WorkerLostError(
                f'Lost {lost}: it stopped answering the collective operations; {kept}; restart '
                'every worker to resume.'
            ) from e
