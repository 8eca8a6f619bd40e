#!/usr/bin/env bash
# Set up fieldmovie on Debian/Ubuntu with Python >= 3.11: FFmpeg (when missing), a virtualenv
# in .venv and the package with its test extras. Safe to run again.
#   bash bootstrap.sh            # set up
#   bash bootstrap.sh --slurm    # also the SLURM executor plugin
set -euo pipefail
cd "$(dirname "$0")"

need_apt=()
command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || need_apt+=(ffmpeg)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
if ((${#need_apt[@]})); then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  echo "bootstrap: installing ${need_apt[*]} with apt-get"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

python3 - <<'PY'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"bootstrap: fieldmovie needs Python >= 3.11, found {sys.version.split()[0]}")
PY

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
extras="test,xarray"
[ "${1:-}" = "--slurm" ] && extras="$extras,slurm"
.venv/bin/python -m pip install -q -e ".[$extras]"
echo "bootstrap: ready ($(.venv/bin/python --version), $(ffmpeg -version | head -1 | cut -d' ' -f1-3))"
