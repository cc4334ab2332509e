"""Progress of a long loop as log lines: done/total, elapsed time and ETA.

`tqdm` counts, rates and throttles; its lines go through absl logging rather than to a terminal,
because the evaluators run for hours in batch jobs whose stderr is a log file: one timestamped
line every `every_seconds` (and at the end) reads there, where a redrawn bar (`\\r`) leaves one
unreadable line. `keras.utils.Progbar` was measured unsuitable for this: it takes no label, and
with stdout redirected to a file (Keras 3.15) it still writes ANSI colour codes and backspaces,
to stdout, where the tools print their results.

```python
progress = Progress('cardinality sweep', total=600, unit='target images scored')
for batch in batches:
    ...
    progress.advance(len(batch))
# I... cardinality sweep: 240/600 target images scored (40%), 00:10 elapsed, ETA 00:15
```
"""

from absl import logging
from tqdm import tqdm

from tfglow import validation

__all__ = ['Progress']


class _LogLines:
    """A file for tqdm that logs each refreshed status as one absl INFO line."""

    def write(self, text: str) -> None:
        # tqdm writes '\r' + status + padding on each refresh, and '\n' when it closes.
        text = text.strip()
        if text:
            logging.info('%s', text)

    def flush(self) -> None:
        pass


class Progress:
    """Logs `done/total unit (percent), elapsed, ETA` at most every `every_seconds`, and at the end.

    The ETA assumes the average rate so far.

    Args:
      label: what is running, the start of every line.
      total: units of work, >= 1.
      unit: what a unit is, shown after the count ('episodes').
      steps_per_unit: `advance` counts steps; a unit is this many (e.g. the scored rows of an
        episode), so a line shows the whole units done. Default value: 1.
      every_seconds: least time between two lines. Default value: 10.
    """

    def __init__(
        self,
        label: str,
        total: int,
        unit: str,
        steps_per_unit: int = 1,
        every_seconds: float = 10.0,
    ):
        self._steps_per_unit = validation.integer(steps_per_unit, 'steps_per_unit', 1)
        self._steps = 0
        self._bar = tqdm(
            total=validation.integer(total, 'total', 1),
            desc=label,
            unit=unit,
            bar_format=(
                '{desc}: {n_fmt}/{total_fmt} {unit} ({percentage:.0f}%), {elapsed} elapsed, '
                'ETA {remaining}'
            ),
            file=_LogLines(),
            # Always the first line: a bar left open by an error must not move the next one
            # down with cursor codes.
            position=0,
            mininterval=every_seconds,
            smoothing=0,
        )

    def advance(self, steps: int) -> None:
        """Counts `steps` more done; logs if `every_seconds` passed, and once all are done."""
        self._steps += steps
        done = min(self._steps // self._steps_per_unit, self._bar.total)
        if done == self._bar.total:
            # `close` logs the last line; an `update` first could log the same line twice.
            self._bar.n = done
            self._bar.close()
        elif done > self._bar.n:
            self._bar.update(done - self._bar.n)
