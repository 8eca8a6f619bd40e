"""``import fieldmovie`` works without the optional dataset dependencies (xarray, dask)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest


@pytest.mark.filterwarnings("ignore")
def test_fieldmovie_imports_without_xarray_and_dask() -> None:
    code = textwrap.dedent(
        """
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("xarray", "dask", "zarr"):
                    raise ImportError(f"blocked {name}")
        sys.meta_path.insert(0, Block())
        import fieldmovie, fieldmovie.workflow.dataset, fieldmovie.cli
        from fieldmovie import _dataset_api
        try:
            _dataset_api.__getattr__("open_sweep")("results", "x")
        except ImportError as exc:
            assert "fieldmovie[dataset]" in str(exc), exc
        else:
            raise SystemExit("no ImportError")
        assert not any(m.split(".")[0] in ("xarray", "dask") for m in sys.modules)
        print("ok")
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.stdout.strip() == "ok", done.stderr
