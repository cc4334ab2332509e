"""What the tfglow binaries share: `--help` that describes the binary, list flags read as numbers,
and a user's mistake reported as one line naming it, not a stack trace."""

import contextlib
import sys
from collections.abc import Callable

from absl import app, flags, logging

__all__ = ['exit_on_error', 'floats', 'ints', 'run']


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


def run(main: Callable[[list[str]], None], module_name: str) -> None:
    """Runs an absl `main` whose `--help` describes the binary `module_name`.

    absl's `--help` prints the `__main__` module's docstring and key flags. For an installed
    console script `__main__` is pip's wrapper, so the binary's docstring and flags are given to
    it first; run as `python tools/x.py`, the binary is `__main__` already.

    Args:
      main: the binary's main function, called with the arguments absl leaves.
      module_name: the binary's `__name__`.
    """
    if module_name != '__main__':
        sys.modules['__main__'].__doc__ = sys.modules[module_name].__doc__
        for flag in flags.FLAGS.get_key_flags_for_module(module_name):
            flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)
    app.run(main)
