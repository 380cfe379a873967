import os

# One BLAS thread per process, before anything imports numpy (an operator's own setting wins). Arena's
# processes share a few cores with each other; OpenBLAS's extra threads spin while they wait for work, and
# a board's fits (matrices of tens of columns) gained no time from them: a style refit took 0.51–0.56 s of
# CPU with two threads against 0.31–0.32 s with one, in the same wall time, and that CPU is taken from voters.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from arena.celery import app as celery_app

__all__ = ["celery_app"]
