"""What the tfglow binaries share: list flags read as numbers, and a user's mistake reported as one
line naming it, not a stack trace."""

import contextlib
import sys

from absl import app, flags, logging

__all__ = ['exit_on_error', 'floats', 'ints']


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
