#!/usr/bin/env bash
# Set up fieldmovie with Python >= 3.11: a virtualenv in .venv and the package with its test
# extras. FFmpeg comes inside PyAV's wheel (the default "pyav" backend), so nothing needs
# root unless asked for. Safe to run again.
#   bash bootstrap.sh            # set up (pip only; no system package)
#   bash bootstrap.sh --ffmpeg   # also the system FFmpeg (apt-get) for the "ffmpeg" backend
#                                # and its tests, and python3-venv when it is missing
#   bash bootstrap.sh --slurm    # also the SLURM executor plugin (the SLURM end-to-end test
#                                # installs slurm-wlm/munge itself, see tests/slurm/cluster.sh)
set -euo pipefail
cd "$(dirname "$0")"

want_ffmpeg=0 extras="test,xarray"
for arg in "$@"; do
  case "$arg" in
    --ffmpeg) want_ffmpeg=1 ;;
    --slurm) extras="$extras,slurm" ;;
    *) echo "bootstrap: unknown option $arg (allowed: --ffmpeg, --slurm)" >&2; exit 2 ;;
  esac
done

need_apt=()
if ((want_ffmpeg)); then
  command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || need_apt+=(ffmpeg)
fi
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  if ((want_ffmpeg)); then
    need_apt+=(python3-venv)
  else
    echo "bootstrap: python3 lacks venv/ensurepip. Without root: use a Python that has them" \
      "(e.g. a cluster module or conda); with root: bash bootstrap.sh --ffmpeg" >&2
    exit 1
  fi
fi
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
.venv/bin/python -m pip install -q -e ".[$extras]"
libav=$(.venv/bin/python -c 'import av; print("PyAV", av.__version__, "with FFmpeg", av.ffmpeg_version_info)')
system=$(command -v ffmpeg >/dev/null 2>&1 && ffmpeg -version | head -1 | cut -d' ' -f1-3 || echo "no system ffmpeg (the ffmpeg backend's tests are skipped)")
echo "bootstrap: ready ($(.venv/bin/python --version), $libav; $system)"
