"""README.md's Python examples run as written.

Each ```python block runs in a fresh interpreter, in a temporary directory holding what it loads:
every `exports/<name>/1` that a block names is exported there first, from a smoke-sized model of
that run's config (untrained: the examples need the signatures, not a good model). A block
preceded by `<!-- readme-test: serve=<name> -->` also gets a stand-in for TF Serving's REST API
on localhost:8501, answering `:predict` requests from `exports/<name>` as TF Serving does (row
format `instances` -> `predictions`, columnar `inputs` -> `outputs`).
"""

import contextlib
import functools
import http.server
import json
import os
import re
import subprocess
import sys
import threading

import numpy as np
import pytest
import tensorflow as tf
from absl.testing import parameterized

from tests.tfglow import export_helpers
from tests.tfglow.augment import helpers as augment_helpers

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_BLOCK = re.compile(
    r'(?:<!-- readme-test: (?P<marker>[^>]*) -->\n)?```python\n(?P<code>.*?)```', re.S
)
_EXPORT = re.compile(r'exports/([\w-]+)/1')
_PORT = 8501


def _readme_blocks() -> list[tuple[str, str, dict[str, str]]]:
    """(name by line number, code, marker options) of every ```python block of README.md."""
    with open(os.path.join(REPO_ROOT, 'README.md')) as f:
        text = f.read()
    blocks = []
    for match in _BLOCK.finditer(text):
        line = text.count('\n', 0, match.start('code'))
        options = dict(item.split('=', 1) for item in (match['marker'] or '').split())
        blocks.append((f'line_{line}', match['code'], options))
    return blocks


def _config(spec: str) -> str:
    return os.path.join(REPO_ROOT, 'configs', spec)


# Export name in the README -> the smoke config of its run.
_RUNS = {
    'fashion_mnist_glow': 'fashion_mnist_glow.py:smoke',
    'omniglot_fewshot_glow': 'omniglot_fewshot_glow.py:smoke',
    'omniglot_fewshot_glow_unconditional': 'omniglot_fewshot_glow.py:smoke,unconditional',
    'omniglot_attention_pixelcnn': 'omniglot_attention_pixelcnn.py:smoke',
    'omniglot_pixelcnn': 'omniglot_attention_pixelcnn.py:smoke,pixelcnn',
}
# `tfglow-augment --export_dir` exports the flow of this run, with statistics of its data.
_AUGMENT_RUN = 'omniglot_fewshot_glow_unconditional'


@functools.cache
def _exports_root() -> str:
    return export_helpers.temporary_dir('tfglow_readme_test_')


@functools.cache
def _export(name: str) -> str:
    """Writes `<root>/exports/<name>/1` as `tfglow-export` (or `tfglow-augment`) would."""
    from tfglow.attributes import AttributeDirections
    from tfglow.augment import latent, methods
    from tfglow.serving.augment import export_augment_saved_model
    from tfglow.serving.export import export_saved_model

    export_dir = os.path.join(_exports_root(), 'exports', name)
    if name == 'augment':
        codec = latent.load_codec(export_helpers.untrained_workdir(_config(_RUNS[_AUGMENT_RUN])))
        classes = augment_helpers.omniglot('train', 30)
        base = methods.BaseStatistics(latent.encode_classes(codec, classes))
        return export_augment_saved_model(codec, base, export_dir)
    if name not in _RUNS:
        raise AssertionError(f'README loads exports/{name}, which readme_test cannot make')
    workdir = export_helpers.untrained_workdir(_config(_RUNS[name]))
    attributes = None
    if name == 'fashion_mnist_glow':  # as with --attributes from tfglow-attributes
        directions = np.random.default_rng(0).normal(size=[1, 28 * 28]).astype(np.float32)
        attributes = AttributeDirections(('ink',), directions, np.ones(1), np.ones(1))
    return export_saved_model(workdir, export_dir, attributes=attributes)


def _predict(signatures, body: dict) -> dict:
    """TF Serving's REST `:predict` on loaded `signatures`."""
    function = signatures[body.get('signature_name', 'serving_default')]
    specs = function.structured_input_signature[1]
    if 'instances' in body:
        rows = body['instances']
        if not isinstance(rows[0], dict):  # one input: each instance is its value
            rows = [{next(iter(specs)): row} for row in rows]
        inputs = {name: [row[name] for row in rows] for name in rows[0]}
    else:
        inputs = body['inputs']
    outputs = function(**{name: tf.constant(v, specs[name].dtype) for name, v in inputs.items()})
    outputs = {name: value.numpy().tolist() for name, value in outputs.items()}
    single = next(iter(outputs.values())) if len(outputs) == 1 else None
    if 'instances' in body:
        rows = [dict(zip(outputs, row)) for row in zip(*outputs.values())]
        return {'predictions': single if single is not None else rows}
    return {'outputs': single if single is not None else outputs}


class _ServingStandIn(threading.Thread):
    """TF Serving's REST predict API for one export, on localhost:8501, in a thread."""

    def __init__(self, export: str):
        super().__init__(daemon=True)
        signatures = tf.saved_model.load(export).signatures

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                assert self.path.endswith(':predict'), self.path
                body = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
                reply = json.dumps(_predict(signatures, body)).encode()
                self.send_response(200)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                del args

        self.server = http.server.HTTPServer(('127.0.0.1', _PORT), Handler)

    def run(self):
        self.server.serve_forever()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.slow
class ReadmeTest(parameterized.TestCase, tf.test.TestCase):
    def test_finds_the_blocks(self):
        names = [name for name, _, _ in _readme_blocks()]
        self.assertGreaterEqual(len(names), 4)
        self.assertLen(set(names), len(names))

    @parameterized.named_parameters(*_readme_blocks())
    def test_python_block_runs(self, code, options):
        for name in sorted(set(_EXPORT.findall(code))):
            _export(name)
        serve = options.get('serve')
        server = _ServingStandIn(_export(serve)) if serve else contextlib.nullcontext()
        with server:
            result = subprocess.run(
                [sys.executable, '-c', code],
                cwd=_exports_root(),
                env=export_helpers.subprocess_env(),
                capture_output=True,
                text=True,
                timeout=600,
            )
        self.assertEqual(result.returncode, 0, f'{code}\n{result.stderr[-3000:]}')


if __name__ == '__main__':
    tf.test.main()
