"""Tests for tfglow.run_guard: the workdir lock, stop signals, and naming a lost worker."""

import os
import signal
import socket

import tensorflow as tf

from tfglow import run_guard


class WorkdirLockTest(tf.test.TestCase):
    def test_second_holder_is_refused_with_the_first_ones_name(self):
        workdir = os.path.join(self.get_temp_dir(), 'run')
        with run_guard.workdir_lock(workdir):
            # flock locks belong to an open file, so a second open in this process is refused
            # as another process would be.
            with (
                self.assertRaisesRegex(
                    run_guard.WorkdirInUseError,
                    rf'^workdir {workdir} is in use by another training run \(pid {os.getpid()} '
                    rf'on host {socket.gethostname()} since \d{{4}}-\d\d-\d\d [\d:]+.*\); wait',
                ),
                run_guard.workdir_lock(workdir),
            ):
                pass
        # Released on exit: the next run takes it.
        with run_guard.workdir_lock(workdir):
            pass

    def test_a_dead_holders_lock_is_taken_over(self):
        workdir = self.get_temp_dir()
        lock_path = os.path.join(workdir, run_guard.LOCK_FILENAME)
        # What a killed run leaves: the file and its info, but no lock (the kernel dropped it).
        with open(lock_path, 'w') as f:
            f.write('pid 999999 on host gone since 2020-01-01 00:00:00 UTC\n')
        with run_guard.workdir_lock(workdir):
            with open(lock_path) as f:
                self.assertStartsWith(f.read(), f'pid {os.getpid()} on host ')

    def test_disabled_for_non_writers_and_remote_paths(self):
        workdir = os.path.join(self.get_temp_dir(), 'never_made')
        with run_guard.workdir_lock(workdir, enabled=False):
            self.assertFalse(os.path.exists(workdir))
        with run_guard.workdir_lock('gs://bucket/run'):
            pass


class StopRequestTest(tf.test.TestCase):
    def test_first_signal_is_recorded_and_a_second_stops_at_once(self):
        # SIGINT is ignored, not default_int_handler, in a process started in the background.
        before = signal.getsignal(signal.SIGINT)
        for signum, exit_code in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
            with run_guard.StopRequest() as stop_request:
                self.assertEqual(stop_request.signum, 0)
                os.kill(os.getpid(), signum)
                self.assertEqual(stop_request.signum, signum)
                with self.assertRaisesRegex(
                    run_guard.TrainingInterrupted, 'at once by a second SIG'
                ) as raised:
                    os.kill(os.getpid(), signum)
            self.assertEqual(raised.exception.exit_code, exit_code)
        # The previous handlers are back.
        self.assertIs(signal.getsignal(signal.SIGINT), before)


class LostWorkerTest(tf.test.TestCase):
    def test_names_the_task_and_its_address(self):
        cluster = {'worker': ['127.0.0.1:1111', '127.0.0.1:2222']}
        error = tf.errors.UnavailableError(
            None,
            None,
            'from /job:worker/replica:0/task:0: task /job:worker/replica:0/task:1 is down',
        )
        this_task = ('worker', 0)
        self.assertEqual(
            run_guard.lost_worker(error, cluster, this_task), 'worker 1 (127.0.0.1:2222)'
        )
        self.assertIn(
            'did not say which', run_guard.lost_worker(ValueError('?'), cluster, this_task)
        )


if __name__ == '__main__':
    tf.test.main()
