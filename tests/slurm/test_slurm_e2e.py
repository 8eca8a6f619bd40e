"""pytest entry point for the SLURM end-to-end test (tests/slurm/run.sh).

It installs Debian's slurm-wlm/munge when missing and starts daemons as root, so it runs
only when asked: FIELDMOVIE_SLURM_E2E=1 .venv/bin/python -m pytest -q tests/slurm
(~3 minutes on 2 cores). CI can call `bash tests/slurm/run.sh` instead, which prints its
progress; use one of the two, not both.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

RUN_SH = Path(__file__).resolve().parent / "run.sh"

wanted = os.environ.get("FIELDMOVIE_SLURM_E2E") == "1"


@pytest.mark.slow
@pytest.mark.skipif(not wanted, reason="SLURM e2e test: set FIELDMOVIE_SLURM_E2E=1 to run it")
def test_workflow_on_local_slurm_cluster():
    proc = subprocess.run(
        ["bash", str(RUN_SH)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    out = proc.stdout + proc.stderr
    if proc.returncode == 0 and "[slurm-e2e] SKIPPED" in out:
        reason = next((line for line in out.splitlines() if line.startswith("SKIP:")), "")
        pytest.skip(f"SLURM e2e skipped: {reason}")
    assert proc.returncode == 0 and "[slurm-e2e] PASSED" in out, out[-6000:]
