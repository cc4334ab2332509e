"""The layout's rules: no import cycle, tfp_flows independent of the application, no import of
another module's private name, no module much over 500 lines."""

import ast
import os

from absl.testing import absltest

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# tools/ installs as tfglow.tools (setup.py's package_dir).
_PACKAGES = {'tfp_flows': 'tfp_flows', 'tfglow': 'tfglow', 'tools': 'tfglow.tools'}
_MAX_LINES = 520


def _modules() -> dict[str, str]:
    """Dotted module name -> file path, for every module of the three packages."""
    modules = {}
    for folder, package in _PACKAGES.items():
        for directory, _, files in os.walk(os.path.join(_ROOT, folder)):
            for name in files:
                if not name.endswith('.py'):
                    continue
                path = os.path.join(directory, name)
                parts = os.path.relpath(path, os.path.join(_ROOT, folder))[:-3].split(os.sep)
                if parts[-1] == '__init__':
                    parts = parts[:-1]
                modules['.'.join([package, *parts])] = path
    return modules


def _imports(path: str, modules: dict[str, str]) -> list[tuple[str, str]]:
    """(imported module, imported name or '') for every absolute import of a project module."""
    found = []
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.Import):
            found += [(alias.name, '') for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f'{node.module}.{alias.name}'
                found.append((submodule, '') if submodule in modules else (node.module, alias.name))
    return [(module, name) for module, name in found if module.split('.')[0] in _PACKAGES]


class StructureTest(absltest.TestCase):
    def setUp(self):
        super().setUp()
        self.modules = _modules()
        self.graph = {}
        for module, path in self.modules.items():
            targets = set()
            for imported, _ in _imports(path, self.modules):
                while imported and imported not in self.modules:
                    imported = imported.rpartition('.')[0]
                # A package's __init__ may import its own modules; they import siblings.
                if imported and imported != module and not module.startswith(imported + '.'):
                    targets.add(imported)
            self.graph[module] = targets

    def test_no_import_cycle(self):
        done, active = set(), []

        def visit(module):
            if module in active:
                self.fail(f'import cycle: {" -> ".join(active[active.index(module) :])}')
            if module in done:
                return
            active.append(module)
            for target in sorted(self.graph[module]):
                visit(target)
            active.pop()
            done.add(module)

        for module in sorted(self.graph):
            visit(module)

    def test_tfp_flows_imports_nothing_of_the_application(self):
        for module, targets in self.graph.items():
            if module.startswith('tfp_flows'):
                self.assertEmpty([t for t in targets if not t.startswith('tfp_flows')], module)

    def test_no_private_name_imported_from_another_module(self):
        for module, path in self.modules.items():
            for imported, name in _imports(path, self.modules):
                if name.startswith('_'):
                    self.fail(f'{module} imports the private name {name} of {imported}')
                # A package-private module (tfp_flows/_seeds.py) serves its own package only.
                private_module = imported.rpartition('.')[2].startswith('_')
                if private_module and imported.split('.')[0] != module.split('.')[0]:
                    self.fail(f'{module} imports the private module {imported}')

    def test_no_module_much_over_500_lines(self):
        for module, path in self.modules.items():
            with open(path) as f:
                self.assertLessEqual(sum(1 for _ in f), _MAX_LINES, module)


if __name__ == '__main__':
    absltest.main()
