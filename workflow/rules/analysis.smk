# Downstream analysis of validated movies: per point observables, preview and snapshots;
# per sweep summary. Each rule reads the validation report first: a movie that failed
# validation is never analysed.


rule observables:
    """One row per frame: time, per component mean/std/min/max/clipped, length scale."""
    input:
        movie=PATHS.movie(),
        times=PATHS.movie_times(),
        report=PATHS.validation(),
    output:
        csv=PATHS.observables(),
    log:
        PATHS.log("observables"),
    threads: 1
    resources:
        mem_mb=movie_mem_mb,
        runtime=movie_runtime,
    params:
        code=code("analysis", "observables"),
    script:
        "../../scripts/observables.py"


rule preview:
    """H.264 preview for eyes: colormapped components side by side, time shown."""
    input:
        movie=PATHS.movie(),
        times=PATHS.movie_times(),
        report=PATHS.validation(),
    output:
        mp4=PATHS.preview(),
    log:
        PATHS.log("preview"),
    threads: 2
    resources:
        mem_mb=movie_mem_mb,
        runtime=movie_runtime,
    params:
        cmap=analysis_setting("cmap"),
        code=code("analysis", "preview"),
    script:
        "../../scripts/preview.py"


rule snapshots:
    """A grid of frames across the run, one column per component."""
    input:
        movie=PATHS.movie(),
        times=PATHS.movie_times(),
        report=PATHS.validation(),
    output:
        png=report(
            PATHS.snapshots(),
            caption="../report/snapshots.rst",
            category="Snapshots",
            subcategory="{sweep}",
            labels={"sweep": "{sweep}", "point": "{point}", "figure": "snapshots"},
        ),
    log:
        PATHS.log("snapshots"),
    threads: 1
    resources:
        mem_mb=movie_mem_mb,
        runtime=small_runtime,
    params:
        frames=analysis_setting("snapshots"),
        cmap=analysis_setting("cmap"),
        code=code("analysis", "snapshots"),
    script:
        "../../scripts/snapshots.py"


rule summary:
    """Per sweep: one row per point (parameters, seed, final observables) and a plot."""
    input:
        observables=sweep_observables,
    output:
        csv=PATHS.summary_csv(),
        png=report(
            PATHS.summary_png(),
            caption="../report/summary.rst",
            category="Summary",
            labels={"sweep": "{sweep}", "figure": "summary plot"},
        ),
    log:
        PATHS.log("summary", point=None),
    threads: 1
    resources:
        mem_mb=small_mem_mb,
        runtime=small_runtime,
    params:
        points=summary_points,
        swept=lambda wildcards: SWEEPS[wildcards.sweep].swept_parameters,
        code=code("analysis", "summary"),
    script:
        "../../scripts/summary.py"
