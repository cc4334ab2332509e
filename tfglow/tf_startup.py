"""TensorFlow's start-up messages, kept off the binaries' stderr unless asked for.

`tensorflow` (the only TensorFlow distribution that tf-keras, and so TFP, accepts) is the GPU
build. Importing it prints absl log lines before absl's logging is initialised: oneDNN's "custom
operations are on", "Could not find cuda drivers", "All log messages before absl::InitializeLog()
is called are written to STDERR"; and its first device listing logs "failed call to cuInit" as an
error on any machine without an NVIDIA driver. `TF_CPP_MIN_LOG_LEVEL` does not reach the first
kind (tensorflow/tensorflow#100442), and raising it to 3 to hide the second would hide every
real error too.

So the binaries import TensorFlow and list its devices with stderr captured, then write back
everything except info and warning log lines (what `TF_CPP_MIN_LOG_LEVEL=2` drops anyway) and the
cuInit failure. `TF_CPP_MIN_LOG_LEVEL` (default 2) still decides: at 0 or 1 nothing is captured.
"""

import contextlib
import functools
import os
import re
import sys
import tempfile
from collections.abc import Callable

__all__ = ['NOISE', 'filtered_stderr', 'quiet_start']

# absl's log line prefix: severity letter, MMDD, time, thread id, file:line].
_INFO_OR_WARNING = r'[IW]\d{4} [\d:.]+\s+\d+ \S+:\d+\] '
NOISE = re.compile(
    rf'^(WARNING: All log messages before absl::InitializeLog\(\)|{_INFO_OR_WARNING}'
    r'|E\d{4} .*failed call to cuInit)'
)


def _level() -> int:
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
    try:
        return int(os.environ['TF_CPP_MIN_LOG_LEVEL'])
    except ValueError:
        return 0  # TensorFlow reads an unparsable level as 0: show everything.


@contextlib.contextmanager
def filtered_stderr():
    """Points file descriptor 2 at a temporary file; on exit writes back its non-noise lines."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode='w+b') as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            for line in capture.read().decode(errors='replace').splitlines(keepends=True):
                if not NOISE.match(line):
                    sys.stderr.write(line)
            sys.stderr.flush()


def quiet_start(main: Callable[[list[str]], int | None]) -> Callable[[list[str]], int | None]:
    """`main`, run after TensorFlow was imported and its devices listed without start-up noise.

    Sets `TF_CPP_MIN_LOG_LEVEL` to 2 unless the environment sets it. Wrapping the binary's main
    (which absl calls after parsing flags) keeps `--help` and flag errors free of the import.
    """

    @functools.wraps(main)
    def quiet_main(argv: list[str]) -> int | None:
        if _level() >= 2:
            with filtered_stderr():
                import tensorflow as tf

                tf.config.list_physical_devices()
        return main(argv)  # absl exits with it: tfglow-train's 128 + signal after a stop.

    return quiet_main
