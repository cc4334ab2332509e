"""What every tfglow binary does with a user's mistake: one line naming it, not a stack trace."""

import contextlib
import sys

from absl import logging

__all__ = ['exit_on_error']


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
