"""exit_on_error and flag_error_message: a user's mistake ends the program with one line,
anything else propagates; list flags read as numbers."""

import os
import sys
import types
from unittest import mock

import tensorflow as tf
from absl import app, flags
from ml_collections import config_flags

from tfglow import cli

_CONFIG = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    'configs',
    'fashion_mnist_glow.py',
)


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


class FlagErrorMessageTest(tf.test.TestCase):
    def _message(self, config: str, *overrides: str) -> str:
        """`flag_error_message` for the error parsing `--config=<config> overrides...`."""
        argv = ['tfglow-x', f'--config={config}', *overrides]
        flag_values = flags.FlagValues()
        config_flags.DEFINE_config_file('config', None, '', flag_values=flag_values)
        # ml_collections reads the overrides from sys.argv.
        with mock.patch.object(sys, 'argv', argv), self.assertRaises(Exception) as raised:
            flag_values(argv)
        message = cli.flag_error_message(raised.exception, argv)
        self.assertNotIn('\n', message)
        return message

    def test_unknown_field_names_the_flag_and_the_closest_field(self):
        self.assertEqual(
            self._message(_CONFIG, '--config.batch_sise=3'),
            "--config.batch_sise: the config has no field 'batch_sise' "
            "(did you mean 'batch_size'?)",
        )
        self.assertEqual(
            self._message(_CONFIG, '--config.model.hidden_widht', '3'),
            "--config.model.hidden_widht: the config has no field 'hidden_widht' "
            "(did you mean 'hidden_width'?)",
        )

    def test_config_file_error_is_its_message_not_its_traceback(self):
        self.assertEqual(
            self._message(f'{_CONFIG}:bogus'),
            f"flag --config={_CONFIG}:bogus: unknown config variant 'bogus'; variants of this "
            'config: smoke, long (combine with commas)',
        )
        self.assertRegex(
            self._message('/no/such/config.py', '--config.batch_size=3'),
            r"No such file or directory: '/no/such/config.py'$",
        )

    def test_bad_value_keeps_absl_message(self):
        self.assertEqual(
            self._message(_CONFIG, '--config.batch_size=abc'),
            "flag --config.batch_size=abc: invalid literal for int() with base 10: 'abc'",
        )

    def test_program_name_is_the_console_script(self):
        module = types.ModuleType('binary')
        module.__file__ = '/repo/tools/fewshot_eval.py'
        with mock.patch.dict(sys.modules, {'binary': module}):
            self.assertEqual(cli.program_name('binary'), 'tfglow-fewshot-eval')


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
