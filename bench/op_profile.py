r"""Where a call's time goes, op by op: TF's profiler, summed by op type and by layer.

  python bench/op_profile.py --config=l3k8w512 --function=train
  python bench/op_profile.py --config=l3k4w128 --function=log_prob --scope=level0_step1_coupling

The throughput table says how fast a model is; this says why. It runs the call under
`tf.profiler`, reads the trace (the XSpace protobuf the profiler writes) and sums every op's
duration by op type, by kind of layer (the name scope after `levelL_stepK_`) and by gradient vs
forward. It also divides the model's FLOPs (bench/flops.py) by the time spent inside conv and
matmul ops alone: the rate those ops reach, against the machine's matmul rate, separates "the
convolutions themselves are slow" from "time goes elsewhere", and the floor line says how fast
the call could get from faster convolutions alone.

By default ops run one at a time (one inter-op thread), so that durations add up to the call's
time instead of overlapping; `--serial=false` keeps TF's default scheduling (op durations then
overlap and are inflated by sharing the cores).
"""

import collections
import glob
import os
import re
import tempfile
import time

import flops
import measure
import models
import tensorflow as tf
from absl import app, flags
from tensorflow.tsl.profiler.protobuf import xplane_pb2

_CONFIG = flags.DEFINE_string('config', 'l3k8w512', 'Configuration (see models.PRESETS).')
_MODEL = flags.DEFINE_enum('model', 'tfglow', list(models.MODELS), 'Model to profile.')
_FUNCTION = flags.DEFINE_enum('function', 'train', list(models.FUNCTIONS), 'Call to profile.')
_MEMORY_SAVING = flags.DEFINE_enum(
    'memory_saving', 'none', ['none', 'recompute', 'invert'], "tfglow's memory_saving option."
)
_CALLS = flags.DEFINE_integer('calls', 5, 'Profiled calls (after 3 warm-up calls).')
_SERIAL = flags.DEFINE_bool('serial', True, 'One inter-op thread: op durations do not overlap.')
_TOP = flags.DEFINE_integer('top', 15, 'Rows of the by-op-type table.')
_SCOPE = flags.DEFINE_string('scope', '', 'Also list every op whose name contains this string.')

# Op types that carry the model's FLOPs (oneDNN's names for conv and matmul, fused or not).
_DENSE_OP = re.compile(r'Conv2D|MatMul')
_LAYER = re.compile(r'level\d+_(?:step\d+_)?([a-z_]+?)(?:/|$)')


def _op_events(logdir: str):
    """(op name, op type, duration in seconds) of every op the executor ran."""
    paths = glob.glob(os.path.join(logdir, '**', '*.xplane.pb'), recursive=True)
    if not paths:
        raise RuntimeError(f'The profiler wrote no trace under {logdir}.')
    space = xplane_pb2.XSpace()
    with open(paths[0], 'rb') as f:
        space.ParseFromString(f.read())
    for plane in space.planes:
        metadata = plane.event_metadata
        for line in plane.lines:
            # Ops run on the executor's threads; their events are named 'name:Type'.
            if not line.name.startswith('tf_Compute'):
                continue
            for event in line.events:
                name, _, op_type = metadata[event.metadata_id].name.rpartition(':')
                if name and not name.startswith(('Threadpool', 'Executor')):
                    yield name, op_type, event.duration_ps * 1e-12


def _layer(name: str) -> str:
    match = _LAYER.search(name)
    kind = match.group(1) if match else 'other'
    if 'adam' in name.lower():
        kind = 'optimizer'
    return f'{kind} (gradient)' if name.startswith('gradient_tape') else kind


def _table(title: str, totals: collections.Counter, counts: collections.Counter, calls: int):
    grand = sum(totals.values())
    print(f'\n{title}\n| ms per call | share | ops per call | |\n|---|---|---|---|')
    for key, seconds in totals.most_common(_TOP.value):
        print(
            f'| {1000 * seconds / calls:.2f} | {100 * seconds / grand:.1f}% '
            f'| {counts[key] // calls} | {key} |'
        )


def main(argv):
    del argv
    if _SERIAL.value:
        tf.config.threading.set_inter_op_parallelism_threads(1)
    config = models.resolve_config(_CONFIG.value)
    memory_saving = _MEMORY_SAVING.value if _MODEL.value.startswith('tfglow') else 'none'
    candidate = models.build(_MODEL.value, config, memory_saving)
    call = models.make_functions(candidate, config, jit_compile=False)[_FUNCTION.value]
    for _ in range(3):
        measure.run(call)
    start = time.perf_counter()
    for _ in range(_CALLS.value):
        measure.run(call)
    wall = (time.perf_counter() - start) / _CALLS.value

    by_type, by_layer, counts, layer_counts = (collections.Counter() for _ in range(4))
    by_name, name_counts = collections.Counter(), collections.Counter()
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        for _ in range(_CALLS.value):
            measure.run(call)
        tf.profiler.experimental.stop()
        for name, op_type, seconds in _op_events(logdir):
            by_type[op_type] += seconds
            counts[op_type] += 1
            layer = _layer(name)
            by_layer[layer] += seconds
            layer_counts[layer] += 1
            if _SCOPE.value and _SCOPE.value in name:
                by_name[f'{name} ({op_type})'] += seconds
                name_counts[f'{name} ({op_type})'] += 1
    calls = _CALLS.value
    op_time = sum(by_type.values()) / calls
    dense_time = sum(s for t, s in by_type.items() if _DENSE_OP.search(t)) / calls
    forward = flops.forward_flops_per_image(
        config.image_shape, config.num_levels, config.steps_per_level, config.hidden_width
    )
    model_flops = (3 if _FUNCTION.value == 'train' else 1) * forward * config.batch_size
    machine = measure.matmul_gflops()['best']

    print(f'{_MODEL.value} {_FUNCTION.value}, {config.describe()}, memory_saving={memory_saving}')
    print(f'wall time per call (unprofiled): {1000 * wall:.1f} ms')
    print(f'op time per call: {1000 * op_time:.1f} ms (serial={_SERIAL.value})')
    print(
        f'conv/matmul ops: {1000 * dense_time:.1f} ms ({100 * dense_time / op_time:.0f}% of op '
        f'time), {model_flops / dense_time / 1e9:.0f} GFLOP/s on the model FLOPs = '
        f'{100 * model_flops / dense_time / 1e9 / machine:.0f}% of the machine matmul rate '
        f'({machine:.0f} GFLOP/s)'
    )
    # The call's time if its conv/matmul ops ran at the machine's matmul rate and everything else
    # kept its share of the (unprofiled) wall time: how fast faster convolutions alone make it.
    floor = model_flops / (machine * 1e9) + wall * (op_time - dense_time) / op_time
    print(
        f'floor with every conv/matmul at the machine rate, the rest unchanged: '
        f'{1000 * floor:.1f} ms per call ({config.batch_size / floor:.0f} images/s)'
    )
    _table('By op type', by_type, counts, calls)
    _table('By layer', by_layer, layer_counts, calls)
    if _SCOPE.value:
        _table(f'Ops in {_SCOPE.value!r}', by_name, name_counts, calls)


if __name__ == '__main__':
    app.run(main)
