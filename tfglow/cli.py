"""What the tfglow binaries share: `--help` that describes the binary, list flags read as numbers,
and a user's mistake reported as one line naming it, not a stack trace."""

import contextlib
import os
import re
import sys
from collections.abc import Callable

from absl import app, flags, logging

from tfglow import tf_startup

__all__ = ['exit_on_error', 'flag_error_message', 'floats', 'ints', 'program_name', 'run']


@contextlib.contextmanager
def exit_on_error(program: str, *errors: type[Exception]):
    """Ends the program with `<program>: error: <message>` on `OSError`, `ValueError` or `errors`.

    Missing files, bad configs, sizes or values surface as these exceptions with a message that
    names the problem; a TensorFlow stack trace adds nothing for the user (`--verbosity=1` still
    logs it).
    """
    try:
        yield
    except (OSError, ValueError, *errors) as e:
        logging.debug('Traceback:', exc_info=True)
        sys.exit(f'{program}: error: {e}')


def ints(flag: flags.FlagHolder) -> tuple[int, ...]:
    """A list flag's values as integers; a clear usage error otherwise."""
    try:
        return tuple(int(value) for value in flag.value)
    except ValueError:
        raise app.UsageError(f'--{flag.name} takes integers; got {",".join(flag.value)}') from None


def floats(flag: flags.FlagHolder) -> tuple[float, ...]:
    """A list flag's values as numbers; a clear usage error otherwise."""
    try:
        return tuple(float(value) for value in flag.value)
    except ValueError:
        raise app.UsageError(f'--{flag.name} takes numbers; got {",".join(flag.value)}') from None


def flag_error_message(error: Exception, argv: list[str]) -> str:
    """One line naming the flag for an error raised while parsing `argv`'s flags.

    Besides absl's `flags.Error`s, ml_collections' config overrides raise `AttributeError` (or
    `KeyError`) for a field the config lacks, `OSError` for a config file that does not load, and
    wrap an error raised by the config file in a message holding its whole traceback.
    """
    root = error
    while (root.__cause__ or root.__context__) is not None:
        root = root.__cause__ or root.__context__
    if isinstance(error, (AttributeError, KeyError)):
        field = str(root.args[0]) if root.args else ''
        names = (arg.split('=', 1)[0] for arg in argv[1:] if arg.startswith('--'))
        flag = next((name for name in names if field in name.split('.')[1:]), None)
        # ml_collections' suggestion, worded as schema.did_you_mean words it.
        match = re.search(r'Did you mean "(\w+)"', str(error))
        hint = f" (did you mean '{match.group(1)}'?)" if match else ''
        where = f'{flag}: ' if flag else ''
        return f'{where}the config has no field {field!r}{hint}'
    lines = str(error).splitlines()
    if len(lines) == 1:
        return lines[0]
    # ml_collections on a config file: 'flag --config=x.py:variant: Error whilst parsing config
    # file:' and a traceback, or several lines on a file that does not load; the last line of the
    # innermost cause is the error itself.
    detail = (str(root).splitlines() or [''])[-1].strip()
    return f'{lines[0].split(": ", 1)[0]}: {detail}'


def program_name(module_name: str) -> str:
    """The console script of binary `module_name` (tools/fewshot_eval.py: tfglow-fewshot-eval)."""
    path = getattr(sys.modules[module_name], '__file__', None) or module_name
    stem = os.path.splitext(os.path.basename(path))[0].split('.')[-1]
    return 'tfglow-' + stem.replace('_', '-')


def run(main: Callable[[list[str]], None], module_name: str) -> None:
    """Runs an absl `main` whose `--help` describes the binary `module_name`.

    absl's `--help` prints the `__main__` module's docstring and key flags. For an installed
    console script `__main__` is pip's wrapper, so the binary's docstring and flags are given to
    it first; run as `python tools/x.py`, the binary is `__main__` already.

    A flag that does not parse ends the program with one line, `<program>: error: <message>`
    (`flag_error_message`), as `exit_on_error` does for errors in `main`; absl would print its
    message, with any traceback it holds, and a hint about `--helpfull`.

    Args:
      main: the binary's main function, called with the arguments absl leaves.
      module_name: the binary's `__name__`.
    """
    if module_name != '__main__':
        sys.modules['__main__'].__doc__ = sys.modules[module_name].__doc__
        for flag in flags.FLAGS.get_key_flags_for_module(module_name):
            flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)
    program = program_name(module_name)

    def parse_flags(argv: list[str]) -> list[str]:
        try:
            return flags.FLAGS(argv)
        except (flags.Error, AttributeError, KeyError, OSError) as e:
            sys.exit(f'{program}: error: {flag_error_message(e, argv)}')

    app.run(tf_startup.quiet_start(main), flags_parser=parse_flags)
