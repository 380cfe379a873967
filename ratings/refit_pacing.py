"""Board refits back off while the machine's CPU is contended, as autovacuum's cost delay does.

The boards worker runs at the idle CPU class so that voters' requests come first; on the machine
``make bench-web`` runs on (a 2-core KVM guest, Linux 6.18) that class does not keep it out of their way:
a pure CPU burner at the idle class beside 100 voters took 0.21 of a core and cost them 14% of their
cycles, at 40% duty 0.11 of a core and 8% (issue 11). Voters lose in proportion to the CPU the worker
takes, so while the CPU is contended each refit process waits after a refit until it has used at most
``ARENA_REFIT_CPU_SHARE_UNDER_LOAD`` of a core since the refit started. Boards fit later under heavy
voting, and as fast as before otherwise.

Contention is read from Linux's pressure stall information (``/proc/pressure/cpu``: the share of the
last 10 s in which some runnable task waited for a CPU), else from the load average per core.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

PRESSURE_FILE = Path("/proc/pressure/cpu")
_SOME_AVG10 = re.compile(r"^some\b.*?\bavg10=([0-9.]+)", re.MULTILINE)


def cpu_contention(pressure_file: Path = PRESSURE_FILE) -> float:
    """Share of recent time (0–1) in which runnable tasks waited for a CPU.

    Linux's ``some avg10`` where the kernel has pressure stall information; elsewhere the 1-minute load
    average beyond the number of cores, as a share of it (a load of 3 on 2 cores: 0.5); 0 when neither is known.
    """
    try:
        found = _SOME_AVG10.search(pressure_file.read_text())
    except OSError:
        found = None
    if found is not None:
        return min(float(found.group(1)) / 100.0, 1.0)
    try:
        load = os.getloadavg()[0]
    except OSError:
        return 0.0
    cores = os.cpu_count() or 1
    return min(max(load - cores, 0.0) / cores, 1.0)


def pause_after(
    cpu_seconds: float, wall_seconds: float, *, contention: float, threshold: float, share: float, longest: float
) -> float:
    """Seconds to wait after a refit that used ``cpu_seconds`` of CPU in ``wall_seconds``.

    No wait while ``contention`` is below ``threshold``, or when ``share`` is 0 (pacing off) or a whole core
    or more; otherwise enough for the refit and the wait together to have used ``share`` of a core, at most
    ``longest``.
    """
    if contention < threshold or not 0.0 < share < 1.0 or cpu_seconds <= 0.0:
        return 0.0
    return min(max(cpu_seconds / share - wall_seconds, 0.0), longest)
