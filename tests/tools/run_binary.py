"""Runs one of tfglow's binaries in a fresh process, as from a checkout (not a test module)."""

import os
import subprocess
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_binary(name: str, *args: str) -> subprocess.CompletedProcess:
    """`python tools/<name>.py args...` from the repository root, quiet TF logs, output captured."""
    return subprocess.run(
        [sys.executable, os.path.join('tools', f'{name}.py'), *args],
        cwd=REPO_ROOT,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2'),
        capture_output=True,
        text=True,
        timeout=300,
    )
