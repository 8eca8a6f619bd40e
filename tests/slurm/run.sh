#!/usr/bin/env bash
# End-to-end test: the fieldmovie workflow on a real (throw-away, single-node)
# SLURM cluster through snakemake-executor-plugin-slurm.
#
#   tests/slurm/run.sh [extra snakemake args ...]
#
# (a) start the cluster (tests/slurm/cluster.sh start; exit 77 there = SKIPPED here)
# (b) run the workflow with --profile workflow/profiles/slurm into $WORK/slurm
# (c) run the same config locally (--profile workflow/profiles/default --cores 2)
#     into $WORK/local
# (d) compare the results (tests/slurm/verify.py compare; the real workflow's
#     comparison is compare_real_results() there)
# (e) check that the jobs really ran in SLURM: job ids printed by snakemake,
#     kept per-job SLURM logs, slurmctld's view of those ids (verify.py evidence)
# (f) again up to validate_movie with grouped segment jobs (FIELDMOVIE_SLURM_GROUPS=1)
# (g) stop the cluster (always, from a trap)
#
# Which workflow: the real one ($REPO/Snakefile or $REPO/workflow/Snakefile)
# with tests/slurm/config.yaml when it exists, else the stand-in in
# tests/slurm/standin/. Environment knobs:
#   FIELDMOVIE_SLURM_SNAKEFILE   Snakefile to run (overrides the search above)
#   FIELDMOVIE_SLURM_CONFIGFILE  --configfile for both runs
#   FIELDMOVIE_SLURM_STANDIN=1   use the stand-in even if the real workflow exists
#   FIELDMOVIE_SLURM_GROUPS=0|1  also run with --groups simulate_segment=sims
#                                --group-components sims=2 --cores 2 --until validate_movie
#                                (default 1)
#   FIELDMOVIE_SLURM_WORK        where the runs go (default: a new /tmp dir,
#                                removed after a passing run)
#   FIELDMOVIE_SLURM_KEEP=1      keep the work dir after a passing run too
#   FIELDMOVIE_SLURM_RUN_TIMEOUT seconds per snakemake run (default 900; SIGKILL 60 s later)
#   FIELDMOVIE_SLURM_REQUIRED=1  a missing prerequisite fails instead of skipping
#   SNAKEMAKE                    snakemake executable (default: $REPO/.venv/bin/snakemake,
#                                else the one on PATH)
#   FIELDMOVIE_SLURM_DIR         cluster state dir (see cluster.sh)
# Exit: 0 = passed or SKIPPED (the output says which), else failed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CLUSTER="$HERE/cluster.sh"
export FIELDMOVIE_SLURM_DIR=${FIELDMOVIE_SLURM_DIR:-/tmp/fieldmovie-slurm}
RUN_TIMEOUT=${FIELDMOVIE_SLURM_RUN_TIMEOUT:-900}
GROUPS_RUN=${FIELDMOVIE_SLURM_GROUPS:-1}
EXTRA_ARGS=("$@")

say() { printf '\n=== [slurm-e2e] %s\n' "$*"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
TIMINGS=()
timing() { TIMINGS+=("$(printf '%-28s %6ss' "$1" "$2")"); }

STATUS=failed
WORK=""
MADE_WORK=0
CHILD=""

# Run a command (from $REPO, under `timeout`) as a background child and wait
# for it, so that a TERM/INT to this script runs the trap at once instead of
# after the command; the trap then stops the child first.
run_child() { # logfile cmd...
    local logfile=$1
    shift
    (cd "$REPO" && exec timeout -k 60 "$RUN_TIMEOUT" "$@") >"$logfile" 2>&1 &
    CHILD=$!
    local rc=0
    wait "$CHILD" || rc=$?
    CHILD=""
    return "$rc"
}

cleanup() {
    local rc=$?
    set +e
    local t0
    if [[ -n $CHILD ]] && kill -0 "$CHILD" 2>/dev/null; then
        # `timeout` makes itself the leader of a new process group holding
        # snakemake; signal that group (our own child's), else the pid alone
        local target=$CHILD
        [[ $(ps -o pgid= -p "$CHILD" | tr -d ' ') == "$CHILD" ]] && target=-$CHILD
        echo "[slurm-e2e] stopping snakemake (timeout pid $CHILD, signalling $target)"
        kill -TERM -- "$target" 2>/dev/null
        local n=100
        while ((n-- > 0)) && kill -0 -- "$target" 2>/dev/null; do sleep 0.1; done
        kill -0 -- "$target" 2>/dev/null && kill -KILL -- "$target" 2>/dev/null
        wait "$CHILD" 2>/dev/null
    fi
    t0=$(now)
    bash "$CLUSTER" stop
    timing "cluster stop" "$(elapsed "$t0")"
    if [[ $STATUS != failed && $MADE_WORK == 1 && ${FIELDMOVIE_SLURM_KEEP:-0} != 1 ]]; then
        rm -rf -- "$WORK"
    elif [[ -n $WORK && -d $WORK ]] && ! { [[ $MADE_WORK == 1 ]] && rmdir "$WORK" 2>/dev/null; }; then
        echo "[slurm-e2e] work dir kept for inspection: $WORK"
    fi
    if ((${#TIMINGS[@]})); then
        echo "[slurm-e2e] timings:"
        printf '  %s\n' "${TIMINGS[@]}"
    fi
    case $STATUS in
    passed) echo "[slurm-e2e] PASSED"; echo "slurm: 1 passed, 0 failed" ;;
    skipped) echo "[slurm-e2e] SKIPPED (nothing was tested, see the SKIP reason above)" ;;
    *) echo "[slurm-e2e] FAILED"; echo "slurm: 0 passed, 1 failed"; ((rc != 0)) || rc=1 ;;
    esac
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

T_ALL=$(now)

# ---------------------------------------------------------------- workflow
if [[ -n ${FIELDMOVIE_SLURM_SNAKEFILE:-} ]]; then
    SNAKEFILE=$FIELDMOVIE_SLURM_SNAKEFILE
    MODE=real
elif [[ ${FIELDMOVIE_SLURM_STANDIN:-0} != 1 && -f $REPO/Snakefile ]]; then
    SNAKEFILE=$REPO/Snakefile
    MODE=real
elif [[ ${FIELDMOVIE_SLURM_STANDIN:-0} != 1 && -f $REPO/workflow/Snakefile ]]; then
    SNAKEFILE=$REPO/workflow/Snakefile
    MODE=real
else
    SNAKEFILE=$HERE/standin/Snakefile
    MODE=standin
fi
if [[ $MODE == real ]]; then
    CONFIGFILE=${FIELDMOVIE_SLURM_CONFIGFILE:-$HERE/config.yaml}
else
    CONFIGFILE=${FIELDMOVIE_SLURM_CONFIGFILE:-$HERE/standin/config.yaml}
fi
CONFIG_ARGS=()
[[ -n $CONFIGFILE ]] && CONFIG_ARGS=(--configfile "$CONFIGFILE")

if [[ -n ${FIELDMOVIE_SLURM_WORK:-} ]]; then
    WORK=$FIELDMOVIE_SLURM_WORK
    mkdir -p "$WORK"
else
    WORK=$(mktemp -d /tmp/fieldmovie-slurm-test.XXXXXX)
    MADE_WORK=1
fi
# ---------------------------------------------------------------- (a) cluster
say "(a) starting the SLURM test cluster"
t0=$(now)
set +e
bash "$CLUSTER" start
rc=$?
set -e
timing "cluster start" "$(elapsed "$t0")"
if ((rc == 77)); then
    STATUS=skipped
    exit 0
elif ((rc != 0)); then
    echo "[slurm-e2e] cluster.sh start failed (exit $rc)"
    exit 1
fi
# shellcheck disable=SC1091
. "$FIELDMOVIE_SLURM_DIR/env.sh"
sinfo -N -o '%N %t %c CPUs %m MB %P'

# ---------------------------------------------------------------- snakemake
if [[ -z ${SNAKEMAKE:-} ]]; then
    if [[ -x $REPO/.venv/bin/snakemake ]]; then
        SNAKEMAKE=$REPO/.venv/bin/snakemake
    else
        SNAKEMAKE=$(command -v snakemake || true)
    fi
fi
if [[ -z $SNAKEMAKE || ! -x $SNAKEMAKE ]]; then
    echo "SKIP: no snakemake found (set SNAKEMAKE or create $REPO/.venv)"
    [[ ${FIELDMOVIE_SLURM_REQUIRED:-0} == 1 ]] && exit 1
    STATUS=skipped
    exit 0
fi
# the python that runs snakemake (for the plugin check and verify.py)
PY=$(head -n1 "$SNAKEMAKE" | sed -n 's/^#! *//p' | awk '{print $1}')
[[ -x ${PY:-} ]] || PY=$(command -v python3)
if ! "$PY" -c 'import snakemake_executor_plugin_slurm' 2>/dev/null; then
    say "installing snakemake-executor-plugin-slurm into $("$PY" -c 'import sys; print(sys.prefix)')"
    if ! "$PY" -m pip install -q snakemake-executor-plugin-slurm; then
        echo "SKIP: snakemake-executor-plugin-slurm is not installed and pip could not install it"
        [[ ${FIELDMOVIE_SLURM_REQUIRED:-0} == 1 ]] && exit 1
        STATUS=skipped
        exit 0
    fi
fi
PLUGIN_VERSION=$("$PY" -c 'from importlib.metadata import version as v; print(v("snakemake-executor-plugin-slurm"), "/ jobstep", v("snakemake-executor-plugin-slurm-jobstep"))')

say "workflow: $MODE ($SNAKEFILE), config: ${CONFIGFILE:-none}, work: $WORK"
say "snakemake $("$SNAKEMAKE" --version), slurm plugin $PLUGIN_VERSION"

# ---------------------------------------------------------------- (b) SLURM run
# Test-only settings on top of the profile: poll every 2 s instead of 40 s,
# keep the per-job SLURM logs for the checks, and squeue status (this cluster
# has no accounting, so sacct cannot work; the profile says the same).
SLURM_TEST_ARGS=(
    --slurm-status-command squeue
    --slurm-init-seconds-before-status-checks 2
    --seconds-between-status-checks 2
    --slurm-keep-successful-logs
)

run_slurm() { # name dir extra-args...
    local name=$1 dir=$2
    shift 2
    mkdir -p "$dir"
    local t0
    t0=$(now)
    local rc=0
    run_child "$dir.log" "$SNAKEMAKE" \
        --profile "$REPO/workflow/profiles/slurm" \
        -s "$SNAKEFILE" "${CONFIG_ARGS[@]}" --directory "$dir" \
        "${SLURM_TEST_ARGS[@]}" "$@" "${EXTRA_ARGS[@]}" || rc=$?
    timing "$name" "$(elapsed "$t0")"
    grep -E "SLURM run ID|has been submitted with SLURM jobid|^Error|rror in rule" "$dir.log" || true
    if ((rc != 0)); then
        echo "[slurm-e2e] $name failed (exit $rc; 124 = timeout after ${RUN_TIMEOUT}s); last lines of $dir.log:"
        tail -n 60 "$dir.log"
        squeue --states=all -o '%i|%j|%T|%r|%C|%m' || true
        return 1
    fi
}

say "(b) SLURM run (profile workflow/profiles/slurm)"
run_slurm "snakemake on SLURM" "$WORK/slurm"

# ---------------------------------------------------------------- (c) local run
say "(c) local run of the same config (profile workflow/profiles/default, --cores 2)"
t0=$(now)
rc=0
run_child "$WORK/local.log" env -u SLURM_CONF "$SNAKEMAKE" \
    --profile "$REPO/workflow/profiles/default" --cores 2 \
    -s "$SNAKEFILE" "${CONFIG_ARGS[@]}" --directory "$WORK/local" \
    "${EXTRA_ARGS[@]}" || rc=$?
timing "snakemake local" "$(elapsed "$t0")"
if ((rc != 0)); then
    echo "[slurm-e2e] local run failed (exit $rc); last lines of $WORK/local.log:"
    tail -n 60 "$WORK/local.log"
    exit 1
fi

# ---------------------------------------------------------------- (d) compare
say "(d) comparing SLURM and local results ($MODE)"
"$PY" "$HERE/verify.py" compare --mode "$MODE" "$WORK/slurm" "$WORK/local"

# ---------------------------------------------------------------- (e) evidence
say "(e) checking that the jobs ran in SLURM"
if [[ $MODE == standin ]]; then
    "$PY" "$HERE/verify.py" evidence --log "$WORK/slurm.log" \
        --expect simulate_segment=4 join_segments=1 validate_movie=1 observables=1 \
        --cpus join_segments=2 --prov "$WORK/slurm/prov" --job-stats
else
    # real workflow: every submitted job must be known to slurmctld as COMPLETED
    # and have its log; per-rule counts are printed, not prescribed
    "$PY" "$HERE/verify.py" evidence --log "$WORK/slurm.log" --job-stats
fi

# ---------------------------------------------------------------- (f) groups
# Grouped segments, up to the validated movies only (the analysis rules were
# covered above; every dependency level costs ~14 s of polling).
if [[ $GROUPS_RUN == 1 ]]; then
    say "(f) SLURM run with grouped segment jobs (--groups simulate_segment=sims --group-components sims=2 --cores 2 --until validate_movie)"
    run_slurm "snakemake on SLURM, grouped" "$WORK/grouped" \
        --groups simulate_segment=sims --group-components sims=2 --cores 2 --until validate_movie
    "$PY" "$HERE/verify.py" compare --mode "$MODE" --subset "$WORK/grouped" "$WORK/local"
    if [[ $MODE == standin ]]; then
        "$PY" "$HERE/verify.py" evidence --log "$WORK/grouped.log" \
            --expect group_sims_simulate_segment=2 join_segments=1 validate_movie=1 \
            --prov "$WORK/grouped/prov"
    else
        # two points -> both segment chains in one group job
        "$PY" "$HERE/verify.py" evidence --log "$WORK/grouped.log" \
            --expect group_sims_simulate_segment=1
    fi
fi

timing "total (without stop)" "$(elapsed "$T_ALL")"
STATUS=passed
