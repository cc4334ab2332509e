"""tf.distribute strategies named in the config, and the multi-worker bookkeeping around them."""

import os
import shutil
import tempfile

import tensorflow as tf

__all__ = [
    'STRATEGIES',
    'broadcast_from_first_replica',
    'check_divisible',
    'get_strategy',
    'is_chief',
    'is_chief_task',
    'num_workers',
    'remove_worker_dir',
    'task_from_environment',
    'worker_dir',
]

STRATEGIES = ('default', 'one_device', 'mirrored', 'multi_worker_mirrored', 'tpu')


def get_strategy(name: str, tpu_address: str | None = None) -> tf.distribute.Strategy:
    """Builds the strategy called `name` (one of `STRATEGIES`).

    Call it before any other TensorFlow op: `multi_worker_mirrored` (which reads the cluster from
    the `TF_CONFIG` environment variable) and `tpu` configure the runtime, which is only possible
    before it has started.

    Args:
      name: 'default' (no distribution), 'one_device' (the first GPU, else the CPU), 'mirrored' (all
        local GPUs, else the CPU), 'multi_worker_mirrored' or 'tpu'.
      tpu_address: TPU name or address for 'tpu'; `None` lets the resolver find it (on a TPU VM,
        or from $TPU_NAME).

    Returns:
      The strategy.

    Raises:
      ValueError: for an unknown name, or TF_CONFIG that is not valid JSON.
    """
    if name == 'default':
        return tf.distribute.get_strategy()
    if name == 'one_device':
        device = '/gpu:0' if tf.config.list_physical_devices('GPU') else '/cpu:0'
        return tf.distribute.OneDeviceStrategy(device)
    if name == 'mirrored':
        return tf.distribute.MirroredStrategy()
    if name == 'multi_worker_mirrored':
        try:
            return tf.distribute.MultiWorkerMirroredStrategy()
        except ValueError as e:
            raise ValueError(f'strategy multi_worker_mirrored: bad TF_CONFIG: {e}') from e
    if name == 'tpu':
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu_address)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f'Unknown strategy {name!r}; expected one of {", ".join(STRATEGIES)}.')


def check_divisible(batch_size: int, num_replicas: int, name: str = 'batch_size') -> int:
    """Returns the per-replica batch size; ValueError if `batch_size` does not split evenly.

    The global batch is split evenly across replicas so that every replica runs the same program and
    the averaged gradient weighs every example equally.
    """
    if batch_size <= 0 or batch_size % num_replicas:
        raise ValueError(
            f'{name}={batch_size} must be a positive multiple of the number of replicas '
            f'({num_replicas}).'
        )
    return batch_size // num_replicas


def _task(strategy: tf.distribute.Strategy) -> tuple[str | None, int, dict]:
    return _resolver_task(getattr(strategy, 'cluster_resolver', None))


def _resolver_task(resolver) -> tuple[str | None, int, dict]:
    if resolver is None or not resolver.task_type:
        return None, 0, {}
    return resolver.task_type, resolver.task_id or 0, resolver.cluster_spec().as_dict()


def _environment_task() -> tuple[str | None, int, dict]:
    """This process's task in the cluster that `TF_CONFIG` describes; reading it starts no TF op."""
    try:
        return _resolver_task(tf.distribute.cluster_resolver.TFConfigClusterResolver())
    except ValueError as e:
        raise ValueError(f'strategy multi_worker_mirrored: bad TF_CONFIG: {e}') from e


def task_from_environment() -> tuple[tuple[str | None, int], dict[str, list[str]]]:
    """`((job, index), {job: [address, ...]})` of this process, from `TF_CONFIG`.

    `(None, 0)` and `{}` without one.
    """
    task_type, task_id, cluster = _environment_task()
    return (task_type, task_id), cluster


def num_workers(strategy: tf.distribute.Strategy) -> int:
    """Number of worker processes taking part in `strategy` (1 unless multi-worker)."""
    _, _, cluster = _task(strategy)
    return max(1, len(cluster.get('chief', [])) + len(cluster.get('worker', [])))


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes checkpoints, summaries and samples (the chief, else worker 0)."""
    return _is_chief(*_task(strategy))


def is_chief_task(strategy_name: str) -> bool:
    """`is_chief` of the strategy `strategy_name` will build, known before it is built.

    Only `multi_worker_mirrored` has non-chief processes; it reads its task from `TF_CONFIG`.
    """
    return strategy_name != 'multi_worker_mirrored' or _is_chief(*_environment_task())


def _is_chief(task_type: str | None, task_id: int, cluster: dict) -> bool:
    if task_type is None or task_type == 'chief':
        return True
    return task_type == 'worker' and task_id == 0 and 'chief' not in cluster


def worker_dir(directory: str, strategy: tf.distribute.Strategy) -> str:
    """`directory` on the chief; a fresh temporary directory on other workers.

    Saving a multi-worker checkpoint is collective, so every worker must write one; only the chief's
    is kept (the TF multi-worker guide's recipe). Remove the others with `remove_worker_dir`.
    """
    if is_chief(strategy):
        return directory
    task_type, task_id, _ = _task(strategy)
    return tempfile.mkdtemp(prefix=f'tfglow_{task_type}{task_id}_{os.path.basename(directory)}_')


def remove_worker_dir(directory: str, strategy: tf.distribute.Strategy) -> None:
    """Deletes a directory made by `worker_dir` on a non-chief worker; no-op on the chief."""
    if not is_chief(strategy):
        shutil.rmtree(directory, ignore_errors=True)


def broadcast_from_first_replica(
    strategy: tf.distribute.Strategy, variables: list[tf.Variable]
) -> None:
    """Overwrites every replica's copy of the float `variables` with global replica 0's values.

    Used after the data-dependent init in multi-worker training: each worker computes it from the
    same batch, and this makes the result bitwise identical even if workers differ in hardware or
    kernels. The all-reduce sums replica 0's value with zeros from the others, which is exact.
    """
    float_vars = [v for v in variables if v.dtype.is_floating]
    if not float_vars:
        return

    def replica_fn():
        ctx = tf.distribute.get_replica_context()
        first = tf.equal(ctx.replica_id_in_sync_group, 0)
        values = [tf.where(first, v.read_value(), tf.zeros_like(v)) for v in float_vars]
        return ctx.all_reduce(tf.distribute.ReduceOp.SUM, values)

    synced = tf.function(lambda: strategy.run(replica_fn))()
    with strategy.scope():
        for variable, value in zip(float_vars, synced, strict=True):
            strategy.extended.update(variable, lambda var, val: var.assign(val), args=(value,))
