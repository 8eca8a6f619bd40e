# Pages of the Snakemake report: a player per point (the preview plays inside the report)
# and a page per sweep with its config, parameter table and summary table.


rule preview_page:
    """The point's preview embedded in a small player page, named by sweep and point."""
    input:
        mp4=PATHS.preview(),
    output:
        html=report(
            PATHS.preview_page(),
            caption="../report/preview.rst",
            category="Previews",
            subcategory="{sweep}",
            labels={"sweep": "{sweep}", "point": "{point}", "figure": "preview"},
        ),
    log:
        PATHS.log("preview_page"),
    threads: 1
    resources:
        mem_mb=small_mem_mb,
        runtime=small_runtime,
    params:
        code=code("report", "preview_page"),
    script:
        "../../scripts/preview_page.py"


rule sweep_page:
    """The sweep's config, its parameter points and its summary table."""
    input:
        summary=PATHS.summary_csv(),
    output:
        html=report(
            PATHS.sweep_page(),
            caption="../report/sweep.rst",
            category="Sweeps",
            labels={
                "sweep": "{sweep}",
                "figure": "config, parameters and summary table",
            },
        ),
    log:
        PATHS.log("sweep_page", point=None),
    threads: 1
    resources:
        mem_mb=small_mem_mb,
        runtime=small_runtime,
    params:
        config=sweep_config,
        points=summary_points,
        swept=lambda wildcards: SWEEPS[wildcards.sweep].swept_parameters,
        code=code("report", "sweep_page"),
    script:
        "../../scripts/sweep_page.py"
