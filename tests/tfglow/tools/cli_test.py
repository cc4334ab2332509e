"""exit_on_error: a user's mistake ends the program with one line; anything else propagates."""

import tensorflow as tf

from tfglow.tools import cli


class _Diverged(Exception):
    pass


class ExitOnErrorTest(tf.test.TestCase):
    def test_user_errors_exit_with_the_program_and_message(self):
        for error in (FileNotFoundError('no checkpoint in /x'), ValueError('bad size 3')):
            with self.assertRaises(SystemExit) as raised, cli.exit_on_error('tfglow-x'):
                raise error
            self.assertEqual(raised.exception.code, f'tfglow-x: error: {error}')

    def test_extra_error_types(self):
        with self.assertRaises(SystemExit) as raised, cli.exit_on_error('tfglow-x', _Diverged):
            raise _Diverged('loss is NaN')
        self.assertEqual(raised.exception.code, 'tfglow-x: error: loss is NaN')

    def test_other_errors_propagate(self):
        with self.assertRaises(KeyError), cli.exit_on_error('tfglow-x'):
            raise KeyError('bug')


if __name__ == '__main__':
    tf.test.main()
