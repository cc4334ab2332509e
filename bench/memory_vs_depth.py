r"""Training memory against depth K, with and without tfglow's memory saving, and TFP for reference.

  python bench/memory_vs_depth.py --config=l3k4w128 --depths=4,8,16,32 \
      --output=bench/memory_vs_depth.md --json_output=bench/memory_vs_depth.json

Each (model, memory_saving, K) is measured in a fresh process (bench/worker.py): the TF allocator's
peak during a steady-state training step (activations and temporaries, above the weights and
optimiser state), the process's RSS growth over the first training calls, and a rough training
throughput from a few untimed-against-anything steps (interleaved figures are in
glow_throughput.py; these only show the recomputation's cost).
"""

import dataclasses
import datetime
import json
import os
import subprocess
import sys

import models
from absl import app, flags

_CONFIG = flags.DEFINE_string('config', 'l3k4w128', 'Base configuration (its K is replaced).')
_DEPTHS = flags.DEFINE_list('depths', ['4', '8', '16', '32'], 'Steps per level K to measure.')
_MODES = flags.DEFINE_list(
    'memory_saving', ['none', 'recompute', 'invert'], 'tfglow memory_saving modes to measure.'
)
_TFP = flags.DEFINE_bool('tfp', True, "Also measure TFP's tfb.Glow at each depth.")
_STEPS = flags.DEFINE_integer('timed_steps', 3, 'Training steps timed per variant.')
_OUTPUT = flags.DEFINE_string('output', '', 'Also write the markdown table to this file.')
_JSON_OUTPUT = flags.DEFINE_string('json_output', '', 'Write every measurement as JSON here.')

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'worker.py')


def _measure(config: models.BenchConfig, model: str, memory_saving: str) -> dict:
    spec = {
        'config': dataclasses.asdict(config),
        'model': model,
        'jit_compile': False,
        'memory_saving': memory_saving,
        'functions': ['train'],
        'timed_steps': _STEPS.value,
    }
    done = subprocess.run(
        [sys.executable, WORKER, json.dumps(spec)], capture_output=True, text=True, check=False
    )
    if done.returncode:
        return {'error': done.stderr.strip().splitlines()[-1:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _cell(result: dict) -> str:
    if 'error' in result:
        return 'failed'
    return (
        f'{result["train_allocator_peak_mib"]:.0f} MiB, '
        f'{result["train_images_per_second"]:.0f} img/s'
    )


def main(argv):
    del argv
    base = models.resolve_config(_CONFIG.value)
    variants = [('tfglow', mode) for mode in _MODES.value]
    if _TFP.value:
        variants.append(('tfp', 'none'))
    rows = []
    for depth in map(int, _DEPTHS.value):
        config = dataclasses.replace(base, steps_per_level=depth)
        row = {'steps_per_level': depth, 'description': config.describe()}
        for model, mode in variants:
            label = model if model == 'tfp' else f'tfglow {mode}'
            row[label] = _measure(config, model, mode)
            print(f'K={depth} {label}: {_cell(row[label])}', flush=True)
        rows.append(row)
    labels = [model if model == 'tfp' else f'tfglow {mode}' for model, mode in variants]
    lines = [
        f'Training step of {base.describe()} with K replaced; TF allocator peak above the resting '
        'state, and training throughput (rough, not interleaved).',
        '',
        '| K | ' + ' | '.join(labels) + ' |',
        '|---|' + '---|' * len(labels),
    ]
    for row in rows:
        lines.append(
            f'| {row["steps_per_level"]} | ' + ' | '.join(_cell(row[v]) for v in labels) + ' |'
        )
    table = '\n'.join(lines) + '\n'
    print(table)
    if _OUTPUT.value:
        with open(_OUTPUT.value, 'w') as output:
            output.write(table)
    if _JSON_OUTPUT.value:
        report = {
            'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
            'command': ' '.join(['python', *sys.argv]),
            'load_average_at_end': os.getloadavg(),
            'rows': rows,
        }
        with open(_JSON_OUTPUT.value, 'w') as output:
            json.dump(report, output, indent=1)


if __name__ == '__main__':
    app.run(main)
