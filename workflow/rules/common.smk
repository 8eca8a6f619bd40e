# Shared by the rules: the results layout, code fingerprints,
# resources and input functions. SWEEPS comes from the Snakefile (checked config).
from pathlib import Path

from fieldmovie.workflow import ResultsLayout
from fieldmovie.workflow.fingerprint import stage_fingerprint
from fieldmovie.workflow.status import run_summary

RESULTS = config["results"]
# Snakemake patterns of every output, e.g. PATHS.movie() == "results/{sweep}/{point}/movie.mkv"
PATHS = ResultsLayout(RESULTS)
SCRIPTS = Path(workflow.current_basedir, "..", "..", "scripts")


def segment_spec(wildcards):
    """The point's SegmentSpec as a dict: a rerun trigger (t_end is not part of it)."""
    return SWEEPS[wildcards.sweep].segment_settings(wildcards.point)


def code(stage, script):
    """Params function: fingerprint of a stage's package code and of its rule script (a
    rerun trigger; ``snakemake --list-changes params`` shows what it reruns)."""
    path = SCRIPTS / f"{script}.py"
    scripts = (str(path),) if path.is_file() else ()  # not local: a module from GitHub

    def fingerprint(wildcards):
        model = SWEEPS[wildcards.sweep].model_class if stage == "simulation" else None
        return stage_fingerprint(stage, model, scripts)

    return fingerprint


def previous_state(wildcards):
    """Segment k resumes from segment k-1's saved state; segment 0 starts fresh."""
    k = int(wildcards.k)
    if k == 0:
        return {}
    return {"state": SWEEPS[wildcards.sweep].layout.state(wildcards.point, k - 1)}


def point_segments(wildcards):
    """All movie segments of a point up to t_end."""
    return SWEEPS[wildcards.sweep].segment_paths(wildcards.point)


def point_info(wildcards):
    """Metadata of a joined movie: the segment spec plus the number of segments."""
    sweep = SWEEPS[wildcards.sweep]
    spec = sweep.segment_settings(wildcards.point)
    return {**spec, "segments": sweep.n_segments}


def grow(base, per_attempt=1.0):
    """A resource that grows with Snakemake's attempt (1, 2, ...), so retries can succeed."""

    def resource(wildcards, attempt):
        return int(base(wildcards) * (1 + per_attempt * (attempt - 1)))

    return resource


def _segment_mem_mb(wildcards):
    return SWEEPS[wildcards.sweep].mem_mb()


def _segment_runtime(wildcards):
    return SWEEPS[wildcards.sweep].segment_runtime()


def _movie_mem_mb(wildcards):
    # streaming decoders hold a few frames; FFmpeg itself needs little
    return SWEEPS[wildcards.sweep].mem_mb(copies=8, base=300)


def _movie_runtime(wildcards):
    sweep = SWEEPS[wildcards.sweep]
    return 10 + sweep.n_segments * sweep.segment_runtime() // 20


segment_mem_mb = grow(_segment_mem_mb)
segment_runtime = grow(_segment_runtime)
movie_mem_mb = grow(_movie_mem_mb)
movie_runtime = grow(_movie_runtime)
small_mem_mb = grow(lambda wildcards: 1000)
small_runtime = grow(lambda wildcards: 10)


# -- analysis and report ---------------------------------------------------------------------
def analysis_targets():
    """Per point and per sweep outputs of the analysis stage and the report pages."""
    targets = []
    for sweep in SWEEPS.values():
        for point in sweep.points():
            targets.append(sweep.layout.observables(point))
            if sweep.analysis["preview"]:
                targets.append(sweep.layout.preview_page(point))
            if sweep.analysis["snapshots"]:
                targets.append(sweep.layout.snapshots(point))
        layout = sweep.layout
        targets += [layout.summary_csv(), layout.summary_png(), layout.sweep_page()]
    return targets


def sweep_observables(wildcards):
    sweep = SWEEPS[wildcards.sweep]
    return [sweep.layout.observables(p) for p in sweep.points()]


def summary_points(wildcards):
    """Parameters and seed of each point of a sweep, in the order of sweep_observables."""
    sweep = SWEEPS[wildcards.sweep]
    return [
        {"point": p.name, "parameters": p.parameters, "seed": p.seed}
        for p in sweep.points()
    ]


def analysis_setting(key):
    """A key of the sweep's ``analysis`` config (its default is in the schema)."""
    return lambda wildcards: SWEEPS[wildcards.sweep].analysis[key]


def sweep_config(wildcards):
    """The sweep's config with the defaults filled in (for the report's sweep page)."""
    return config["sweeps"][wildcards.sweep]
