"""Measurements that need a fresh process: first-call (trace + compile) time and peak RSS.

Run by glow_throughput.py and memory_vs_depth.py, one process per model variant:

  python bench/worker.py '{"config": {...}, "model": "tfglow", "jit_compile": false, ...}'

Prints one JSON object on its last line of output.
"""

import json
import sys
import time

import measure
import models

FUNCTIONS = ('train', 'log_prob', 'encode', 'sample')


def measure_variant(spec: dict) -> dict:
    """First-call seconds of each function, then training memory, for one model variant.

    The RSS high-water mark is reset after the model is built and initialised, so
    `train_rss_growth` is what the first training calls (trace, compile, run) add to the process.
    """
    config = models.BenchConfig(
        **{**spec['config'], 'image_shape': tuple(spec['config']['image_shape'])}
    )
    start = time.perf_counter()
    candidate = models.build(spec['model'], config, spec.get('memory_saving', 'none'))
    result = {'build_seconds': time.perf_counter() - start}
    functions = models.make_functions(candidate, config, spec['jit_compile'])
    rss_before = measure.read_rss_mib()['rss']
    measure.reset_rss_high_water()
    first_call = {}
    for name in spec.get('functions', FUNCTIONS):
        start = time.perf_counter()
        measure.run(functions[name])
        first_call[name] = time.perf_counter() - start
        if name == 'train':
            # Two more steps: the second call can still allocate (e.g. optimiser state on the
            # first real update); the peak has settled by the third.
            measure.run(functions['train'])
            result['train_allocator_peak_mib'] = measure.allocator_peak(functions['train'])
            result['train_rss_growth'] = measure.read_rss_mib()['high_water'] - rss_before
            steps = spec.get('timed_steps', 0)
            if steps:
                start = time.perf_counter()
                for _ in range(steps):
                    measure.run(functions['train'])
                result['train_images_per_second'] = (
                    steps * config.batch_size / (time.perf_counter() - start)
                )
    result['first_call_seconds'] = first_call
    result['rss_high_water'] = measure.read_rss_mib()['high_water']
    result['parameters'] = models.parameter_count(candidate)
    return result


if __name__ == '__main__':
    print(json.dumps(measure_variant(json.loads(sys.argv[1]))))
