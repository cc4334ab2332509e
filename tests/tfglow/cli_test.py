"""exit_on_error: a user's mistake ends the program with one line, anything else propagates; list
flags read as numbers."""

import tensorflow as tf
from absl import app, flags

from tfglow import cli


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


class ListFlagTest(tf.test.TestCase):
    def setUp(self):
        super().setUp()
        self.flag_values = flags.FlagValues()
        self.ways = flags.DEFINE_list('ways', ['5', '20'], '', flag_values=self.flag_values)
        self.flag_values(['test'])

    def test_reads_numbers(self):
        self.assertEqual(cli.ints(self.ways), (5, 20))
        self.assertEqual(cli.floats(self.ways), (5.0, 20.0))

    def test_bad_values_are_usage_errors(self):
        self.flag_values.ways = ['5', 'x']
        with self.assertRaisesRegex(app.UsageError, '--ways takes integers; got 5,x'):
            cli.ints(self.ways)
        with self.assertRaisesRegex(app.UsageError, '--ways takes numbers; got 5,x'):
            cli.floats(self.ways)
        self.flag_values.ways = ['0.5']
        with self.assertRaisesRegex(app.UsageError, 'takes integers'):
            cli.ints(self.ways)


if __name__ == '__main__':
    tf.test.main()
