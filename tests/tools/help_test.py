"""Every installed console script's `--help`: what the tool does, its own flags and an example."""

import ast
import configparser
import os
import re
import subprocess
import sys
import time

from absl.testing import absltest, parameterized

from tests.tfglow import export_helpers

CONSOLE_SCRIPTS = (
    'tfglow-train',
    'tfglow-export',
    'tfglow-attributes',
    'tfglow-sample',
    'tfglow-fewshot-eval',
    'tfglow-augment',
    'tfglow-augment-report',
)


def _entry_points() -> dict[str, str]:
    """Console script name -> module, as setup.cfg declares them (installed metadata may be stale
    in a checkout, whose root can hold an old tfglow.egg-info)."""
    parser = configparser.ConfigParser()
    parser.read(os.path.join(export_helpers.REPO_ROOT, 'setup.cfg'))
    lines = parser['options.entry_points']['console_scripts'].strip().splitlines()
    return dict(re.fullmatch(r'\s*([\w-]+)\s*=\s*([\w.]+):run\s*', line).groups() for line in lines)


def _path(module: str) -> str:
    """The file of binary `module`: `tfglow.tools.x` is tools/x.py."""
    return os.path.join(export_helpers.REPO_ROOT, 'tools', module.split('.')[-1] + '.py')


def _source(path: str) -> ast.Module:
    """The parsed source of a binary, not imported: the binaries define flags of the same names,
    which one process cannot hold twice."""
    with open(path) as f:
        return ast.parse(f.read())


def _defined_flags(tree: ast.Module) -> set[str]:
    """Names of the flags the module defines (`flags.DEFINE_*('name', ...)` and the like)."""
    return {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr.startswith('DEFINE_')
    }


def _words(text: str) -> str:
    return ' '.join(text.split())


def _help(program: str, *python_options: str) -> subprocess.CompletedProcess:
    """`program --help` in a fresh process, output captured."""
    return subprocess.run(
        [sys.executable, *python_options, program, '--help'],
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2'),
        capture_output=True,
        text=True,
        timeout=120,
    )


class HelpTest(parameterized.TestCase):
    def test_every_console_script_is_a_tools_binary(self):
        entry_points = _entry_points()
        self.assertCountEqual(entry_points, CONSOLE_SCRIPTS)
        for name, module in entry_points.items():
            self.assertStartsWith(module, 'tfglow.tools.', msg=name)

    @parameterized.parameters(*CONSOLE_SCRIPTS)
    def test_help_describes_the_tool_its_flags_and_an_example(self, name):
        path = _path(_entry_points()[name])
        # The installed console script, and the binary run from a checkout.
        for program in (export_helpers.console_script(name), path):
            with self.subTest(program=program):
                self._check_help(name, _source(path), program)

    def _check_help(self, name: str, tree: ast.Module, program: str):
        start = time.monotonic()
        # -X importtime lists every module imported, on stderr.
        result = _help(program, '-X', 'importtime')
        # For the record only: the time depends on the machine's load.
        print(f'{program} --help: {time.monotonic() - start:.1f} s')
        help_text = result.stdout
        self.assertNotIn('Traceback', result.stderr)
        # The module docstring as written: what the tool does, with example commands.
        self.assertIn(_words(ast.get_docstring(tree, clean=False)), _words(help_text))
        self.assertRegex(help_text, rf'(?m)^\s+{name} --\w')
        # Its own flags, with their defaults, and no one else's (absl's or TensorFlow's).
        listed = set(re.findall(r'(?m)^  --(?:\[no\])?(\w+):', help_text))
        self.assertEqual(listed, _defined_flags(tree))
        self.assertIn('(default: ', help_text)
        # Help does not wait for TensorFlow: the binaries import it in main.
        imported = re.findall(r'(?m)^import time:.*\|\s*(\S+)$', result.stderr)
        self.assertNotEmpty(imported)
        self.assertNotIn('tensorflow', imported)

    def test_choices_written_out_for_a_quick_help_are_the_librarys(self):
        # The binaries spell these out rather than import the TensorFlow modules that own them.
        from tfglow import attributes
        from tfglow.augment import methods
        from tfglow.fewshot import run

        expected = {
            'tfglow-attributes': [
                f'<{"|".join(attributes.SOURCES)}>',
                f'({attributes.OPENAI_SCALE} is openai/glow',
            ],
            'tfglow-augment': [f'<{"|".join(methods.METHODS)}>'],
            'tfglow-fewshot-eval': [f"(default: '{','.join(run.DEFAULT_ANALYSES)}')"],
        }
        for name, texts in expected.items():
            help_text = _words(_help(export_helpers.console_script(name)).stdout)
            for text in texts:
                self.assertIn(text, help_text, msg=name)


if __name__ == '__main__':
    absltest.main()
