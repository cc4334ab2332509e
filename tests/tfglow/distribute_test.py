"""tfglow.distribute: strategies by name, worker roles, and training under each strategy.

The unit checks run in this process; the training runs (MirroredStrategy against one device, two
MultiWorkerMirroredStrategy workers) each run in fresh processes and are marked slow.
"""

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
from unittest import mock

import numpy as np
import pytest
import tensorflow as tf

from tests.tfglow import train_helpers
from tfglow import distribute


class DistributeTest(tf.test.TestCase):
    def test_strategies_by_name(self):
        self.assertIs(distribute.get_strategy('default'), tf.distribute.get_strategy())
        self.assertIsInstance(
            distribute.get_strategy('one_device'), tf.distribute.OneDeviceStrategy
        )
        self.assertIsInstance(distribute.get_strategy('mirrored'), tf.distribute.MirroredStrategy)

    def test_unknown_strategy_lists_the_names(self):
        with self.assertRaisesRegex(
            ValueError, "Unknown strategy 'horovod'.*multi_worker_mirrored"
        ):
            distribute.get_strategy('horovod')

    def test_check_divisible(self):
        self.assertEqual(distribute.check_divisible(64, 4), 16)
        with self.assertRaisesRegex(ValueError, r'batch_size=10 .* replicas \(4\)'):
            distribute.check_divisible(10, 4)
        with self.assertRaisesRegex(ValueError, 'eval_batch_size=0'):
            distribute.check_divisible(0, 1, 'eval_batch_size')

    def test_chief_known_from_tf_config_before_the_strategy(self):
        cluster = {'worker': ['127.0.0.1:1111', '127.0.0.1:2222']}
        for index, chief in ((0, True), (1, False)):
            tf_config = json.dumps({'cluster': cluster, 'task': {'type': 'worker', 'index': index}})
            with mock.patch.dict(os.environ, TF_CONFIG=tf_config):
                self.assertEqual(distribute.is_chief_task('multi_worker_mirrored'), chief)
                # Other strategies have no other workers, whatever TF_CONFIG says.
                self.assertTrue(distribute.is_chief_task('mirrored'))
                self.assertEqual(distribute.task_from_environment(), (('worker', index), cluster))
        with (
            mock.patch.dict(os.environ, TF_CONFIG='{not json'),
            self.assertRaisesRegex(ValueError, 'bad TF_CONFIG'),
        ):
            distribute.is_chief_task('multi_worker_mirrored')

    def test_single_process_is_chief(self):
        strategy = tf.distribute.get_strategy()
        self.assertTrue(distribute.is_chief(strategy))
        self.assertEqual(distribute.num_workers(strategy), 1)
        self.assertEqual(distribute.worker_dir('/some/dir', strategy), '/some/dir')


def _helper(*args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, '-m', 'tests.tfglow.train_helpers', *args],
        cwd=train_helpers.REPO_ROOT,
        env=train_helpers.subprocess_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _finish(process: subprocess.Popen, timeout: int = 240) -> str:
    try:
        output, _ = process.communicate(timeout=timeout)
    finally:
        process.kill()
    if process.returncode != 0:
        raise AssertionError(f'helper failed with code {process.returncode}:\n{output}')
    return output


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(('127.0.0.1', 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
class MirroredStrategyTest(tf.test.TestCase):
    def test_two_replicas_match_one_device(self):
        out = os.path.join(self.get_temp_dir(), 'mirrored.npz')
        _finish(_helper('mirrored', train_helpers.SMOKE_CONFIG, out))
        arrays = np.load(out)
        self.assertAllClose(arrays['mirrored_losses'], arrays['single_losses'], rtol=1e-5)
        weights = sorted(k[len('single_') :] for k in arrays.files if k.startswith('single_w'))
        self.assertNotEmpty(weights)
        for name in weights:
            for kind in (name, 's' + name[1:]):  # weights and their EMA shadows
                self.assertAllClose(
                    arrays[f'mirrored_{kind}'], arrays[f'single_{kind}'], rtol=1e-5, atol=1e-6
                )
        # Five images in batches of 4: the second replica's last batch is empty.
        self.assertAllClose(arrays['mirrored_eval_bits'], arrays['single_eval_bits'], rtol=1e-6)


def _workers(workdir: str, cluster: dict, *overrides: str) -> list[subprocess.Popen]:
    """Starts one multi-worker training process per worker of `cluster`, in `workdir`/run."""
    processes = []
    for index in range(len(cluster['worker'])):
        tf_config = json.dumps({'cluster': cluster, 'task': {'type': 'worker', 'index': index}})
        out = os.path.join(workdir, f'worker{index}.npz')
        args = ('worker', train_helpers.SMOKE_CONFIG, workdir + '/run', out)
        args += ('strategy=multi_worker_mirrored', 'num_eval_examples=40', *overrides)
        processes.append(_helper(*args, TF_CONFIG=tf_config))
    return processes


@pytest.mark.slow
class MultiWorkerMirroredStrategyTest(tf.test.TestCase):
    def test_two_workers_end_identical(self):
        workdir = tempfile.mkdtemp(dir=self.get_temp_dir())
        cluster = {'worker': [f'127.0.0.1:{port}' for port in _free_ports(2)]}
        processes = _workers(workdir, cluster, 'num_train_steps=3', 'eval_every_steps=100')
        for process in processes:
            _finish(process)

        workers = [np.load(os.path.join(workdir, f'worker{i}.npz')) for i in range(2)]
        self.assertEqual(sorted(workers[0].files), sorted(workers[1].files))
        changed = 0
        for key in workers[0].files:
            # Bitwise equal: same data-dependent init and the same all-reduced updates.
            self.assertAllEqual(workers[0][key], workers[1][key], msg=key)
            if key.startswith('final_'):
                init = workers[0]['init_' + key[len('final_') :]]
                changed += not np.array_equal(init, workers[0][key])
        self.assertGreater(changed, 0)
        # Only the chief wrote outputs: its checkpoints and results are in the workdir.
        with open(os.path.join(workdir, 'run', 'eval_results.json')) as f:
            self.assertEqual(json.load(f)['step'], 3)
        self.assertTrue(os.path.exists(os.path.join(workdir, 'run', 'checkpoints', 'ckpt-3.index')))

    def test_a_lost_worker_is_named_and_the_checkpoint_kept(self):
        workdir = tempfile.mkdtemp(dir=self.get_temp_dir())
        cluster = {'worker': [f'127.0.0.1:{port}' for port in _free_ports(2)]}
        chief, other = _workers(
            workdir, cluster, 'num_train_steps=100000', 'eval_every_steps=100000'
        )
        log = []
        try:
            for line in chief.stdout:
                log.append(line)
                if 'step 3/100000' in line:
                    other.kill()
            # TensorFlow's health check finds the lost worker within about 20 s.
            chief.wait(timeout=120)
        finally:
            chief.kill()
            other.kill()
        log = ''.join(log)
        self.assertEqual(chief.returncode, 1, log)
        lost = re.search(
            rf'WorkerLostError: Lost worker 1 \({cluster["worker"][1]}\): it stopped answering '
            r'the collective operations; the last checkpoint is (\S+/ckpt-\d+); restart every',
            log,
        )
        self.assertIsNotNone(lost, log)
        self.assertTrue(os.path.exists(lost.group(1) + '.index'))


if __name__ == '__main__':
    tf.test.main()
