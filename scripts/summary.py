"""Rule summary: per sweep table of final observables and a plot against the parameters."""

from fieldmovie.analysis.observables import write_sweep_summary
from fieldmovie.workflow.jobs import job_logging

snakemake = snakemake  # noqa: F821 - injected by Snakemake

with job_logging(snakemake.log[0], outputs=snakemake.output):
    points = [
        {**point, "observables": csv}
        for point, csv in zip(snakemake.params.points, snakemake.input.observables, strict=True)
    ]
    write_sweep_summary(
        points,
        snakemake.params.swept,
        snakemake.output.csv,
        snakemake.output.png,
        title=f"sweep {snakemake.wildcards.sweep}: final values",
    )
