"""Rule preview: colormapped H.264 preview of the validated movie."""

from fieldmovie.analysis.preview import write_preview
from fieldmovie.analysis.render import movie_color_range
from fieldmovie.movie.validate import open_validated
from fieldmovie.workflow.jobs import job_logging

snakemake = snakemake  # noqa: F821 - injected by Snakemake

with job_logging(snakemake.log[0], outputs=snakemake.output):
    reader = open_validated(snakemake.input.movie, snakemake.input.report)
    lows, highs = movie_color_range(reader)  # one colour range per component, whole movie
    write_preview(
        reader,
        snakemake.output.mp4,
        vmin=lows,
        vmax=highs,
        components=reader.components,
        cmap=snakemake.params.cmap,
        threads=snakemake.threads,
    )
