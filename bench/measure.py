"""Timing, memory and machine-rate measurements shared by the benchmarks.

Memory is read two ways, both checked against known allocations (see bench/README.md):
- `allocator_peak`: the peak bytes held by TensorFlow's CPU allocator during one call, above what
  it held before the call (`tf.config.experimental.get_memory_info('CPU:0')` after
  `reset_memory_stats`, which do work on CPU in TF 2.21 and count XLA's buffers too). This is the
  activation / working memory of a call, excluding weights and optimiser slots, and is unaffected
  by other models in the process.
- `rss_high_water`: the process's resident-set high-water mark (`VmHWM` in /proc/self/status),
  read in a fresh process per configuration. It includes the TF runtime itself, compilation and
  the allocator's pooling (oneDNN builds of TF keep freed blocks for reuse), so it is what the
  operating system sees, not what the model needs.
"""

import statistics
import time

import numpy as np
import tensorflow as tf

__all__ = [
    'allocator_peak',
    'allocator_self_check',
    'interleaved_rates',
    'matmul_gflops',
    'read_rss_mib',
    'reset_rss_high_water',
    'run',
]

MIB = 2.0**20


def run(call) -> None:
    """Runs `call()` to completion (the values are fetched, so nothing is still in flight)."""
    for value in tf.nest.flatten(call()):
        value.numpy()


def _seconds(call, repeats: int) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        run(call)
    return time.perf_counter() - start


def interleaved_rates(
    calls: dict, items_per_call: int, rounds: int, seconds_per_round: float
) -> dict[str, list[float]]:
    """Items per second of each call, measured in alternating rounds.

    Every round times every call once, in alternating order (forwards, then backwards), so that a
    burst of load from other processes falls on all of them rather than on one. Each timing runs
    the call enough times to last about `seconds_per_round`. Calls must already be warm (traced
    and compiled). Returns one rate per round for each call.
    """
    counts = {}
    for name, call in calls.items():
        single = _seconds(call, 1)
        counts[name] = max(1, int(round(seconds_per_round / max(single, 1e-6))))
    rates = {name: [] for name in calls}
    names = list(calls)
    for round_index in range(rounds):
        for name in names if round_index % 2 == 0 else reversed(names):
            elapsed = _seconds(calls[name], counts[name])
            rates[name].append(items_per_call * counts[name] / elapsed)
    return rates


def allocator_peak(call) -> float:
    """Peak MiB that TF's CPU allocator holds during one `call()`, above what it held before.

    `reset_memory_stats` sets the peak to the bytes in use; subtracting those leaves what the call
    itself allocates at its peak, without the weights, optimiser slots and other resting tensors.
    """
    tf.config.experimental.reset_memory_stats('CPU:0')
    resting = tf.config.experimental.get_memory_info('CPU:0')['current']
    run(call)
    return (tf.config.experimental.get_memory_info('CPU:0')['peak'] - resting) / MIB


def allocator_self_check(mib: int = 64) -> float:
    """`allocator_peak` of a call that holds exactly `mib` MiB at once: it should read `mib`."""
    fill = tf.function(lambda value: tf.reduce_sum(tf.fill([mib * 2**18], value)))
    value = tf.constant(1.0)  # An input, so graph optimisation cannot fold the buffer away.
    run(lambda: fill(value))
    return allocator_peak(lambda: fill(value))


def read_rss_mib() -> dict[str, float]:
    """Current (`VmRSS`) and high-water (`VmHWM`) resident memory of this process, in MiB."""
    values = {}
    with open('/proc/self/status') as status:
        for line in status:
            key, _, rest = line.partition(':')
            if key in ('VmRSS', 'VmHWM'):
                values[key] = int(rest.split()[0]) / 1024.0
    return {'rss': values['VmRSS'], 'high_water': values['VmHWM']}


def reset_rss_high_water() -> None:
    """Resets `VmHWM` to the current RSS (Linux >= 4.0: writing 5 to clear_refs)."""
    with open('/proc/self/clear_refs', 'w') as clear_refs:
        clear_refs.write('5')


def matmul_gflops(
    size: int = 2048, rounds: int = 5, seconds_per_round: float = 0.5, dtype=tf.float32
) -> dict:
    """The machine's matmul rate in `dtype` (fp32 by default), GFLOP/s, with TF's default threads.

    A `size x size` matmul is large enough to run at the BLAS kernel's full rate on a CPU and small
    enough to stay in the last-level cache of a server part. Returns the median and best of
    `rounds` timings; the best is the least disturbed by other processes.
    """
    rng = np.random.default_rng(0)
    a = tf.constant(rng.standard_normal((size, size)), dtype)
    b = tf.constant(rng.standard_normal((size, size)), dtype)
    matmul = tf.function(tf.matmul)
    call = lambda: matmul(a, b)
    run(call)
    rates = interleaved_rates({'matmul': call}, 1, rounds, seconds_per_round)['matmul']
    rates = [rate * 2 * size**3 / 1e9 for rate in rates]
    return {'median': statistics.median(rates), 'best': max(rates), 'size': size}
