"""Optional dependencies: packages that only some features need, installed as tfglow's extras.

`pip install tfglow` leaves them out; `pip install 'tfglow[tfds]'` (or `-e '.[tfds]'` in a
checkout) adds tensorflow-datasets and what it needs. See setup.cfg's `extras_require`.
"""

import importlib
import types

__all__ = ['EXTRAS', 'MissingExtraError', 'require']

# Importable module -> (distribution, the extra of setup.cfg that installs it).
EXTRAS = {'tensorflow_datasets': ('tensorflow-datasets', 'tfds')}


class MissingExtraError(ImportError, ValueError):
    """An optional dependency is not installed.

    Also a `ValueError`, so that the binaries report it as one line (`tfglow.cli.exit_on_error`),
    as they do a config that asks for something that cannot be had.
    """


def require(module: str, needed_by: str) -> types.ModuleType:
    """Imports optional `module`; if it is not installed, says which extra installs it.

    Args:
      module: a key of `EXTRAS`, e.g. 'tensorflow_datasets'.
      needed_by: what needs it, for the message, e.g. "config.data.source 'tfds'".

    Raises:
      MissingExtraError: `module` is not installed.
    """
    distribution, extra = EXTRAS[module]
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name != module:  # a broken install of the package itself: its own error is clearer
            raise
        raise MissingExtraError(
            f'{needed_by} needs {distribution}, which is not installed: pip install '
            f"'tfglow[{extra}]' (in a checkout: pip install -e '.[{extra}]')",
            name=module,
        ) from None
