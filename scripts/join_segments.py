"""Rule join_segments: join a point's segments with the concat demuxer (no re-encode)."""

from fieldmovie import concat_movies
from fieldmovie.workflow.jobs import job_logging

snakemake = snakemake  # noqa: F821 - injected by Snakemake

with job_logging(snakemake.log[0], outputs=snakemake.output) as log:
    concat_movies(snakemake.input.segments, snakemake.output.movie, info=snakemake.params.info)
    log.info("joined %d segments into %s", len(snakemake.input.segments), snakemake.output.movie)
