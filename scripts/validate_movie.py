"""Rule validate_movie: decode and check the joined movie against its segments."""

from fieldmovie.jobs import job_logging
from fieldmovie.validate import check_movie

snakemake = snakemake  # noqa: F821 - injected by Snakemake

with job_logging(snakemake.log[0]):
    check_movie(snakemake.input.movie, snakemake.input.segments, snakemake.output.report)
