r"""Single-thread CPU time per call: the work each model does, robust to load from other processes.

  python bench/cpu_time.py --config=l3k4w128 --functions=train,log_prob,sample

On a machine shared with other jobs, wall-clock rates move with their load; the CPU time this
process spends on one thread does not (beyond cache effects), so it is the figure to compare
code changes by. It says nothing about how well a model uses several cores: see
glow_throughput.py for that. TF runs with one intra-op and one inter-op thread here.
"""

import json
import time

import measure
import models
import tensorflow as tf
from absl import app, flags

_CONFIG = flags.DEFINE_string('config', 'l3k4w128', 'Configuration (see models.PRESETS).')
_FUNCTIONS = flags.DEFINE_list('functions', ['train', 'log_prob', 'sample'], 'Calls to time.')
_MODELS = flags.DEFINE_list('models', ['tfglow', 'tfp'], 'Models to time.')
_MEMORY_SAVING = flags.DEFINE_enum(
    'memory_saving', 'none', ['none', 'recompute', 'invert'], "tfglow's memory_saving option."
)
_ROUNDS = flags.DEFINE_integer('rounds', 3, 'Alternating rounds; the minimum is reported.')
_CALLS = flags.DEFINE_integer('calls_per_round', 3, 'Calls per timing.')


def _cpu_ms(call, calls: int) -> float:
    start = time.process_time()
    for _ in range(calls):
        measure.run(call)
    return 1000 * (time.process_time() - start) / calls


def main(argv):
    del argv
    # Before anything runs: the runtime fixes its thread pools on first use.
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    config = models.resolve_config(_CONFIG.value)
    calls = {}
    for name in _MODELS.value:
        memory_saving = _MEMORY_SAVING.value if name.startswith('tfglow') else 'none'
        candidate = models.build(name, config, memory_saving)
        functions = models.make_functions(candidate, config, jit_compile=False)
        for function in _FUNCTIONS.value:
            calls[(name, function)] = functions[function]
            measure.run(functions[function])
    times = {key: [] for key in calls}
    for round_index in range(_ROUNDS.value):
        for key in calls if round_index % 2 == 0 else reversed(list(calls)):
            times[key].append(_cpu_ms(calls[key], _CALLS.value))
    result = {f'{name} {function}': min(times[name, function]) for name, function in calls}
    print(f'{config.describe()}: single-thread CPU ms per call (min of {_ROUNDS.value} rounds)')
    print(json.dumps(result, indent=1))


if __name__ == '__main__':
    app.run(main)
