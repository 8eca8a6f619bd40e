"""Rule preview: colormapped H.264 preview of the validated movie."""

from fieldmovie.analysis.preview import write_preview
from fieldmovie.movie.validate import open_validated
from fieldmovie.workflow.jobs import job_logging

snakemake = snakemake  # noqa: F821 - injected by Snakemake

with job_logging(snakemake.log[0]):
    reader = open_validated(snakemake.input.movie, snakemake.input.report)
    write_preview(
        reader,
        snakemake.output.mp4,
        vmin=reader.vmin,
        vmax=reader.vmax,
        components=reader.components,
        cmap=snakemake.params.cmap,
    )
