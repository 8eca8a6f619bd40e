# Downstream analysis of validated movies: per point observables, preview and snapshots;
# per sweep summary. Each rule reads the validation report first: a movie that failed
# validation is never analysed.


def analysis_targets():
    """Per point and per sweep outputs of the analysis stage for all sweeps."""
    targets = []
    for sweep in SWEEPS.values():
        for point in sweep.points():
            base = sweep.point_dir(point)
            targets.append(f"{base}/observables.csv")
            if sweep.analysis.get("preview", True):
                targets.append(f"{base}/preview.mp4")
            if sweep.analysis.get("snapshots", 6):
                targets.append(f"{base}/snapshots.png")
        targets += [f"{RESULTS}/{sweep.name}/summary.csv", f"{RESULTS}/{sweep.name}/summary.png"]
    return targets


def sweep_observables(wildcards):
    sweep = SWEEPS[wildcards.sweep]
    return [f"{sweep.point_dir(p)}/observables.csv" for p in sweep.points()]


def summary_points(wildcards):
    """Parameters and seed of each point of a sweep, in the order of sweep_observables."""
    sweep = SWEEPS[wildcards.sweep]
    return [{"point": p.name, "parameters": p.parameters, "seed": p.seed} for p in sweep.points()]


def analysis_setting(key, default):
    return lambda wildcards: SWEEPS[wildcards.sweep].analysis.get(key, default)


rule observables:
    """One row per frame: time, per component mean/std/min/max/clipped, length scale."""
    input:
        movie=f"{POINT_DIR}/movie.mkv",
        times=f"{POINT_DIR}/movie.mkv.times",
        report=f"{POINT_DIR}/movie.validation.json",
    output:
        csv=f"{POINT_DIR}/observables.csv",
    log:
        "logs/{sweep}/{point}/observables.log",
    threads: 1
    resources:
        mem_mb=movie_mem_mb,
        runtime=movie_runtime,
    script:
        "../../scripts/observables.py"


rule preview:
    """H.264 preview for eyes: colormapped components side by side, time shown."""
    input:
        movie=f"{POINT_DIR}/movie.mkv",
        times=f"{POINT_DIR}/movie.mkv.times",
        report=f"{POINT_DIR}/movie.validation.json",
    output:
        mp4=report(
            f"{POINT_DIR}/preview.mp4",
            caption="../report/preview.rst",
            category="Previews",
            subcategory="{sweep}",
            labels={"sweep": "{sweep}", "point": "{point}", "figure": "preview"},
        ),
    params:
        cmap=analysis_setting("cmap", "viridis"),
    log:
        "logs/{sweep}/{point}/preview.log",
    threads: 2
    resources:
        mem_mb=movie_mem_mb,
        runtime=movie_runtime,
    script:
        "../../scripts/preview.py"


rule snapshots:
    """A grid of frames across the run, one column per component."""
    input:
        movie=f"{POINT_DIR}/movie.mkv",
        times=f"{POINT_DIR}/movie.mkv.times",
        report=f"{POINT_DIR}/movie.validation.json",
    output:
        png=report(
            f"{POINT_DIR}/snapshots.png",
            caption="../report/snapshots.rst",
            category="Snapshots",
            subcategory="{sweep}",
            labels={"sweep": "{sweep}", "point": "{point}", "figure": "snapshots"},
        ),
    params:
        frames=analysis_setting("snapshots", 6),
        cmap=analysis_setting("cmap", "viridis"),
    log:
        "logs/{sweep}/{point}/snapshots.log",
    threads: 1
    resources:
        mem_mb=movie_mem_mb,
        runtime=10,
    script:
        "../../scripts/snapshots.py"


rule summary:
    """Per sweep: one row per point (parameters, seed, final observables) and a plot."""
    input:
        observables=sweep_observables,
    output:
        csv=f"{RESULTS}/{{sweep}}/summary.csv",
        png=report(
            f"{RESULTS}/{{sweep}}/summary.png",
            caption="../report/summary.rst",
            category="Summary",
            labels={"sweep": "{sweep}", "figure": "summary"},
        ),
    params:
        points=summary_points,
        swept=lambda wildcards: SWEEPS[wildcards.sweep].swept_parameters,
    log:
        "logs/{sweep}/summary.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../../scripts/summary.py"
