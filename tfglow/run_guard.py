"""What keeps a training run's workdir whole when runs collide, stop or lose a peer.

- `workdir_lock`: one run per workdir. An exclusive `fcntl.flock` on `workdir/.lock`, held for the
  run's duration. The kernel drops the lock when its process ends, however it ends (`kill -9`
  included), so a dead run never leaves a stale lock; the file keeps the last holder's pid, host and
  start time, which the refusal names.
- `StopRequest`: SIGTERM (a scheduler's preemption) and SIGINT (Ctrl-C) ask the training loop to
  save a checkpoint and stop after the current step; a second signal stops at once. The run then
  ends with `TrainingInterrupted`, whose `exit_code` is the shell's 128 + signal number, so that a
  scheduler sees a stopped job, not a finished one.
- `WorkerLostError`: a multi-worker collective failed because a peer went away.
- `remove_checkpoints`: drops checkpoints a rerun must not resume from (the non-finite guard's).
"""

import contextlib
import fcntl
import os
import re
import signal
import socket
import threading
import time
from collections.abc import Callable

import tensorflow as tf
from absl import logging

__all__ = [
    'LOCK_FILENAME',
    'StopRequest',
    'TrainingInterrupted',
    'WorkdirInUseError',
    'WorkerLostError',
    'lost_worker',
    'remove_checkpoints',
    'workdir_lock',
]

LOCK_FILENAME = '.lock'
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class WorkdirInUseError(OSError):
    """Another live process holds the workdir's lock (an OSError, as the EWOULDBLOCK behind it)."""


class WorkerLostError(ConnectionError):
    """A multi-worker run lost a peer: collectives cannot go on."""


class TrainingInterrupted(Exception):
    """The run stopped on a signal before `num_train_steps`; `exit_code` is 128 + the signal."""

    def __init__(self, signum: int, message: str):
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum


@contextlib.contextmanager
def workdir_lock(workdir: str, *, enabled: bool = True):
    """Holds `workdir/.lock` exclusively inside the `with`; `WorkdirInUseError` if another holds it.

    Args:
      workdir: the run's directory, created if missing. Paths with a scheme (`gs://...`) are not
        locked: `flock` needs a local (or NFS) file system.
      enabled: False for a process that writes nothing in `workdir` (a non-chief worker).
    """
    if not enabled or '://' in workdir:
        yield
        return
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, LOCK_FILENAME), 'a+') as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.seek(0)
            # Empty only in the instant between the holder's lock and its write.
            holder = lock_file.read().strip() or 'holder not recorded yet'
            raise WorkdirInUseError(
                f'workdir {workdir} is in use by another training run ({holder}); wait for it '
                'to end or choose another --workdir.'
            ) from None
        lock_file.truncate(0)
        since = time.strftime('%Y-%m-%d %H:%M:%S %Z')
        lock_file.write(f'pid {os.getpid()} on host {socket.gethostname()} since {since}\n')
        lock_file.flush()
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


class StopRequest:
    """Records SIGTERM and SIGINT so the loop can save a checkpoint and stop after this step.

    `signum` is the first signal received (0: none). A second one raises `TrainingInterrupted` at
    once, for a user who will not wait for a long step or evaluation to end.
    """

    def __init__(self):
        self.signum = 0
        self._previous = {}

    def __enter__(self):
        # Signal handlers can only be installed from the main thread (not in some test runners).
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in _STOP_SIGNALS}
        return self

    def _handle(self, signum, frame):
        del frame
        name = signal.Signals(signum).name
        if self.signum:
            message = f'Stopped at once by a second {name}: steps since the last checkpoint lost.'
            raise TrainingInterrupted(signum, message)
        logging.warning(
            'Received %s: saving a checkpoint after this step, then exiting (again: at once).', name
        )
        self.signum = signum

    def __exit__(self, *exc_info):
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)


def lost_worker(
    error: Exception, cluster: dict[str, list[str]], this_task: tuple[str | None, int]
) -> str:
    """The peer a collective error names, with its address from the cluster spec if known.

    TensorFlow names tasks as `/job:worker/replica:0/task:1`; the first one that is not
    `this_task` (`(job, index)` of this process) is taken to be the lost one.
    """
    for job, index in re.findall(r'/job:(\w+)/replica:\d+/task:(\d+)', str(error)):
        index = int(index)
        if (job, index) == tuple(this_task):
            continue
        addresses = cluster.get(job, [])
        return f'{job} {index}' + (f' ({addresses[index]})' if index < len(addresses) else '')
    return 'a peer worker (TensorFlow did not say which)'


def remove_checkpoints(
    manager: tf.train.CheckpointManager, remove: Callable[[int], bool]
) -> list[str]:
    """Deletes `manager`'s checkpoints whose step `remove` selects; returns their names.

    The directory's checkpoint state then lists the others, the newest as the latest (none left:
    no state, so a rerun starts afresh). Call it when `manager` saves no more.
    """
    kept, removed = [], []
    for path in manager.checkpoints:
        (removed if remove(int(path.rsplit('-', 1)[1])) else kept).append(path)
    if not removed:
        return []
    for path in removed:
        for name in tf.io.gfile.glob(path + '.*'):
            tf.io.gfile.remove(name)
    if kept:
        tf.compat.v1.train.update_checkpoint_state(
            manager.directory, kept[-1], all_model_checkpoint_paths=kept
        )
    else:
        tf.io.gfile.remove(os.path.join(manager.directory, 'checkpoint'))
    return [os.path.basename(path) for path in removed]
