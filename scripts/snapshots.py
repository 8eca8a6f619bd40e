"""Rule snapshots: a PNG grid of frames across the run."""

from fieldmovie.analysis.preview import write_movie_snapshots
from fieldmovie.movie.validate import open_validated
from fieldmovie.workflow.jobs import job_logging

snakemake = snakemake  # noqa: F821 - injected by Snakemake

with job_logging(snakemake.log[0], outputs=snakemake.output):
    reader = open_validated(snakemake.input.movie, snakemake.input.report)
    write_movie_snapshots(
        reader, snakemake.output.png, count=snakemake.params.frames, cmap=snakemake.params.cmap
    )
