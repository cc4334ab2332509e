r"""Throughput, first-call time, memory and parameters: tfglow's Glow against TFP's tfb.Glow.

  python bench/glow_throughput.py --config=l3k4w128,l3k8w512,fashion_mnist \
      --output=bench/results.md --json_output=bench/results.json

For each configuration both models are built at the same architecture, in float32 and with their
networks in bfloat16 (`models.MODELS`), and, in one process, every timed call (a training step,
log_prob, encode, sample; the float32 models each with and without XLA) is run in alternating
rounds so that load from other processes hits all of them alike. First-call times and
the process's peak RSS are taken in a fresh process per variant (bench/worker.py). The machine's
fp32 matmul rate is measured at the start and end, and each throughput is also given as the
fraction of it that the model's FLOPs (bench/flops.py) reach (for the bfloat16 variants too, which
can pass 100%: the fp32 rate is the yardstick). See bench/README.md.
"""

import dataclasses
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys

import flops
import measure
import models
import tensorflow as tf
from absl import app, flags

_CONFIG = flags.DEFINE_list(
    'config',
    ['l3k4w128', 'l3k8w512', 'fashion_mnist'],
    f'Configurations: names from {sorted(models.PRESETS)} or config files '
    '(configs/<name>.py[:variant]) whose model section is benchmarked.',
)
_BATCH_SIZE = flags.DEFINE_integer(
    'batch_size', 0, 'Overrides every configuration batch (0: keep).'
)
_FUNCTIONS = flags.DEFINE_list('functions', list(models.FUNCTIONS), 'Calls to time.')
_MODELS = flags.DEFINE_list('models', list(models.MODELS), f'Models, from {models.MODELS}.')
_XLA = flags.DEFINE_enum(
    'xla', 'both', ['both', 'off', 'on'], 'Variants with jit_compile (float32 models only).'
)
_ROUNDS = flags.DEFINE_integer('rounds', 5, 'Alternating timing rounds per call.')
_SECONDS = flags.DEFINE_float('seconds_per_round', 2.0, 'Approximate seconds per timing.')
_FRESH_PROCESS = flags.DEFINE_bool(
    'fresh_process', True, 'Measure first-call time and peak RSS in a fresh process per variant.'
)
_OUTPUT = flags.DEFINE_string('output', '', 'Also write the markdown tables to this file.')
_JSON_OUTPUT = flags.DEFINE_string('json_output', '', 'Write every measurement as JSON here.')

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'worker.py')


def _variants() -> list[tuple[str, bool]]:
    jit = {'both': (False, True), 'off': (False,), 'on': (True,)}[_XLA.value]
    # No XLA for the bfloat16 variants: XLA's CPU convolutions do not use the bfloat16 units.
    return [
        (model, xla)
        for model in _MODELS.value
        for xla in (jit if not _is_bfloat16(model) else [x for x in jit if not x])
    ]


def _is_bfloat16(label: str) -> bool:
    return label.split()[0].endswith('_bf16')


def _label(model: str, xla: bool) -> str:
    return model + (' XLA' if xla else '')


def _fresh_process(config: models.BenchConfig, model: str, xla: bool) -> dict:
    spec = {'config': dataclasses.asdict(config), 'model': model, 'jit_compile': xla}
    spec['functions'] = _FUNCTIONS.value
    done = subprocess.run(
        [sys.executable, WORKER, json.dumps(spec)], capture_output=True, text=True, check=False
    )
    if done.returncode:
        return {'error': done.stderr.strip().splitlines()[-1:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def benchmark(config: models.BenchConfig) -> dict:
    """Every measurement for one configuration (see the module docstring)."""
    candidates = {model: models.build(model, config) for model in _MODELS.value}
    result = {
        'config': dataclasses.asdict(config),
        'description': config.describe(),
        'parameters': {m: models.parameter_count(c) for m, c in candidates.items()},
        'forward_gflops_per_image': flops.forward_flops_per_image(
            config.image_shape, config.num_levels, config.steps_per_level, config.hidden_width
        )
        / 1e9,
        'images_per_second': {},
        'allocator_peak_mib': {},
    }
    functions = {
        (model, xla): models.make_functions(candidates[model], config, xla)
        for model, xla in _variants()
    }
    for name in _FUNCTIONS.value:
        calls = {_label(*variant): fns[name] for variant, fns in functions.items()}
        for label, call in calls.items():
            measure.run(call)  # trace and compile
            peak = measure.allocator_peak(call)
            result['allocator_peak_mib'].setdefault(label, {})[name] = peak
        rates = measure.interleaved_rates(calls, config.batch_size, _ROUNDS.value, _SECONDS.value)
        for label, values in rates.items():
            result['images_per_second'].setdefault(label, {})[name] = {
                'median': statistics.median(values),
                'best': max(values),
                'rounds': values,
            }
        print(
            f'{config.name} {name}: '
            + ', '.join(f'{label} {statistics.median(v):.1f}' for label, v in rates.items()),
            flush=True,
        )
    if _FRESH_PROCESS.value:
        result['fresh_process'] = {
            _label(*variant): _fresh_process(config, *variant) for variant in _variants()
        }
    return result


def _fraction(images_per_second: float, gflops_per_image: float, machine_gflops: float) -> str:
    return f'{100 * images_per_second * gflops_per_image / machine_gflops:.0f}%'


def _speed_rows(result: dict, labels: list[str], machine_gflops: float) -> list[str]:
    rows = []
    for name in _FUNCTIONS.value:
        gflops = result['forward_gflops_per_image'] * (3 if name == 'train' else 1)
        medians = {v: result['images_per_second'][v][name]['median'] for v in labels}
        cells = [
            f'{medians[v]:.1f} ({_fraction(medians[v], gflops, machine_gflops)})' for v in labels
        ]
        cells += [f'{ratio:.2f}x' for ratio in _ratios(medians).values()]
        rows.append(f'| {result["description"]} | {name} | ' + ' | '.join(cells) + ' |')
    return rows


def _ratios(medians: dict[str, float]) -> dict[str, float]:
    """The comparison columns: float32 like for like, then the bfloat16 variants."""
    nan = float('nan')

    def best(model, bfloat16=False):
        rates = [
            rate
            for label, rate in medians.items()
            if label.split()[0].startswith(model) and _is_bfloat16(label) == bfloat16
        ]
        return max(rates, default=nan)

    return {
        'tfglow best / tfp': best('tfglow') / medians.get('tfp', nan),
        'tfglow best / tfp best': best('tfglow') / best('tfp'),
        'tfglow_bf16 / tfp': medians.get('tfglow_bf16', nan) / medians.get('tfp', nan),
        'tfglow_bf16 / tfp_bf16': medians.get('tfglow_bf16', nan) / medians.get('tfp_bf16', nan),
    }


def _memory_rows(result: dict, labels: list[str]) -> list[str]:
    nan = float('nan')
    rows = []
    for label in labels:
        peaks = result['allocator_peak_mib'][label]
        fresh = result.get('fresh_process', {}).get(label, {})
        first = fresh.get('first_call_seconds', {})
        cells = [
            result['description'],
            label,
            f'{result["parameters"][label.split()[0]]:,}',
            f'{peaks.get("train", nan):.0f}',
            f'{peaks.get("log_prob", nan):.0f}',
            f'{fresh.get("train_rss_growth", nan):.0f}',
            ' / '.join(f'{first.get(n, nan):.1f}' for n in _FUNCTIONS.value),
        ]
        rows.append('| ' + ' | '.join(cells) + ' |')
    return rows


def markdown(results: list[dict], machine: dict) -> str:
    """The results as markdown tables."""
    rate = machine['gflops']
    labels = [_label(*v) for v in _variants()]
    ratio_names = list(_ratios({}))
    lines = [
        f'Machine fp32 matmul rate: {rate:.0f} GFLOP/s (best of the runs at start and end; '
        f'medians {machine["start"]["median"]:.0f} and {machine["end"]["median"]:.0f}).',
        '',
        '### Throughput, images/s (median of rounds; % = model FLOPs / machine matmul rate)',
        '',
        '| config | call | ' + ' | '.join(labels + ratio_names) + ' |',
        '|---|---|' + '---|' * (len(labels) + len(ratio_names)),
    ]
    for result in results:
        lines += _speed_rows(result, labels, rate)
    lines += [
        '',
        '### Parameters, memory and first-call time',
        '',
        'Allocator peak: TF CPU allocator bytes above the resting state during one steady-state '
        "call. RSS growth: the fresh process's resident-set high-water mark added by the first "
        'training calls (trace, compile, run). First call: trace + compile + one run, fresh '
        'process.',
        '',
        '| config | variant | parameters | train allocator peak (MiB) | log_prob allocator peak '
        '(MiB) | train RSS growth (MiB) | first call s: ' + ' / '.join(_FUNCTIONS.value) + ' |',
        '|---|---|---|---|---|---|---|',
    ]
    for result in results:
        lines += _memory_rows(result, labels)
    return '\n'.join(lines) + '\n'


def main(argv):
    del argv
    configs = [models.resolve_config(name, _BATCH_SIZE.value) for name in _CONFIG.value]
    allocator_check = measure.allocator_self_check(64)
    machine = {'start': measure.matmul_gflops()}
    print(f'matmul: {machine["start"]["median"]:.0f} GFLOP/s (median)', flush=True)
    results = [benchmark(config) for config in configs]
    machine['end'] = measure.matmul_gflops()
    machine['gflops'] = max(machine['start']['best'], machine['end']['best'])
    table = markdown(results, machine)
    table += f'\nAllocator check: a call holding exactly 64 MiB read {allocator_check:.1f} MiB.\n'
    print(table)
    report = {
        'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        'command': ' '.join(['python', *sys.argv]),
        'host': {
            'processor': platform.processor() or platform.machine(),
            'cpu_count': os.cpu_count(),
            'load_average_at_end': os.getloadavg(),
            'tensorflow': tf.__version__,
        },
        'machine_matmul_gflops': machine,
        'allocator_self_check_64_mib': allocator_check,
        'results': results,
    }
    if _OUTPUT.value:
        with open(_OUTPUT.value, 'w') as output:
            output.write(table)
    if _JSON_OUTPUT.value:
        with open(_JSON_OUTPUT.value, 'w') as output:
            json.dump(report, output, indent=1)


if __name__ == '__main__':
    app.run(main)
