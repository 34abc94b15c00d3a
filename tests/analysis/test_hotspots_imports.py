"""The hotspot settings and case-event rules load without Numba: the hub and the
CLI import them at start-up, and the compiled kernels load only when a scan runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import epitrace


def test_settings_and_case_event_rules_do_not_load_numba() -> None:
    code = (
        "import sys\n"
        "import epitrace.analysis.hotspots\n"
        "import epitrace.analysis.hotspots.params\n"
        "import epitrace.analysis.hotspots.case_events\n"
        "from epitrace.analysis.hotspots import ScanParams\n"
        "from epitrace.analysis.hotspots.case_events import DATED_BY, EXPOSURE_DAYS_BEFORE\n"
        "ScanParams(replications=9)\n"
        "assert 'numba' not in sys.modules, 'numba was imported'\n"
    )
    source = str(Path(epitrace.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([source, os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_the_scans_are_still_found_in_the_package() -> None:
    import epitrace.analysis.hotspots as hotspots
    from epitrace.analysis.hotspots.clusters import scan_hotspots

    assert hotspots.scan_hotspots is scan_hotspots
    assert set(hotspots.__all__) <= set(dir(hotspots)) | set(hotspots._DEFINED_IN)
