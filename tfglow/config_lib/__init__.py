"""Experiment configs: the shared schema, helpers for configs/, validation, loading and saving.

Every file in `configs/` starts from `base_config(model)` (`schema.py`), which defines the whole
schema that the training loop reads for that model family, and changes only values, helped by the
presets of `presets.py` (openai/glow's schedule, smoke runs, variant arguments).
`validate_config` (`validation.py`) checks a config against that schema before anything expensive
happens, so a typo or an impossible value fails in milliseconds with a message naming the key,
instead of deep inside TensorFlow. `io.py` loads config files and writes and reads a run's
`config.json`; `resume.py` decides which config changes a resumed run accepts.

This package imports no TensorFlow at the top: configs import it, and loading a config (tests,
`--help`, tools) should stay fast.

#### Examples

```python
from tfglow import config_lib
config = config_lib.load_config('configs/cifar10_glow.py:reverse_additive,smoke')
config_lib.write_config(config, '/tmp/run')   # -> '/tmp/run/config.json'
```
"""

from tfglow.config_lib.io import (
    CONFIG_FILENAME,
    CONFIG_HISTORY_FILENAME,
    append_config_history,
    load_config,
    load_config_module,
    read_config,
    write_config,
)
from tfglow.config_lib.presets import (
    apply_openai_schedule,
    apply_smoke,
    parse_variants,
    pick_variant,
)
from tfglow.config_lib.resume import (
    CADENCE_KEYS,
    check_resume_config,
    config_differences,
    format_differences,
)
from tfglow.config_lib.schema import (
    COUPLINGS,
    EPISODIC_MODELS,
    MODEL_NAMES,
    NETWORK_DTYPES,
    OPTIMIZERS,
    PERMUTATIONS,
    PIXEL_CNN_OUTPUTS,
    SOURCES,
    STRATEGIES,
    base_config,
    model_image_shape,
)
from tfglow.config_lib.validation import validate_config

__all__ = [
    'CADENCE_KEYS',
    'CONFIG_FILENAME',
    'CONFIG_HISTORY_FILENAME',
    'COUPLINGS',
    'EPISODIC_MODELS',
    'MODEL_NAMES',
    'NETWORK_DTYPES',
    'OPTIMIZERS',
    'PERMUTATIONS',
    'PIXEL_CNN_OUTPUTS',
    'SOURCES',
    'STRATEGIES',
    'append_config_history',
    'apply_openai_schedule',
    'apply_smoke',
    'base_config',
    'check_resume_config',
    'config_differences',
    'format_differences',
    'load_config',
    'load_config_module',
    'model_image_shape',
    'parse_variants',
    'pick_variant',
    'read_config',
    'validate_config',
    'write_config',
]
