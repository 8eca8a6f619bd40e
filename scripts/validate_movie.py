"""Rule validate_movie: decode and check the joined movie against its segments."""

from fieldmovie.movie.validate import check_movie
from fieldmovie.workflow.jobs import job_logging

snakemake = snakemake  # noqa: F821 - injected by Snakemake

with job_logging(snakemake.log[0], outputs=snakemake.output):
    check_movie(snakemake.input.movie, snakemake.input.segments, snakemake.output.report)
