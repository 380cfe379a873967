"""Arena's processes run numpy and scipy with one BLAS thread, unless the operator sets another number."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Imports arena as every entry point does (manage.py, gunicorn's arena.wsgi, celery -A arena), then makes numpy
# and scipy each multiply and factor a matrix large enough for OpenBLAS to start its threads, and counts threads.
PROBE = """
import arena, numpy, scipy.linalg
a = numpy.random.default_rng(0).random((300, 300))
scipy.linalg.cho_factor(a @ a.T + 300 * numpy.eye(300))
print(open("/proc/self/status").read().split("Threads:")[1].split()[0])
"""


def _threads(**environment: str) -> int:
    env = {key: value for key, value in os.environ.items() if key != "OPENBLAS_NUM_THREADS"}
    env.update(environment, PYTHONPATH=str(ROOT), SECRET_KEY="x")
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=True, cwd=ROOT
    )
    return int(result.stdout.strip())


def test_an_arena_process_has_no_blas_threads_beside_its_own():
    assert _threads() == 1


def test_the_operators_own_setting_wins():
    assert _threads(OPENBLAS_NUM_THREADS="2") > 1
