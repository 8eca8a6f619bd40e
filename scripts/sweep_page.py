"""Rule sweep_page: the sweep's config, parameter table and summary table for the report."""

from fieldmovie.workflow.jobs import job_logging
from fieldmovie.workflow.report import write_sweep_page

snakemake = snakemake  # noqa: F821 - injected by Snakemake

with job_logging(snakemake.log[0], outputs=snakemake.output):
    write_sweep_page(
        snakemake.output.html,
        sweep=snakemake.wildcards.sweep,
        config=snakemake.params.config,
        points=snakemake.params.points,
        swept=snakemake.params.swept,
        summary_csv=snakemake.input.summary,
    )
