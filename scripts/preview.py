"""Rule preview: colormapped H.264 preview of the validated movie."""

import inspect

from fieldmovie.analysis.preview import write_preview
from fieldmovie.movie.validate import open_validated
from fieldmovie.workflow.jobs import job_logging

snakemake = snakemake  # noqa: F821 - injected by Snakemake

with job_logging(snakemake.log[0]) as log:
    reader = open_validated(snakemake.input.movie, snakemake.input.report)
    options = {"cmap": snakemake.params.cmap}
    # the rule's threads reach the encoder once write_preview takes them
    if "threads" in inspect.signature(write_preview).parameters:
        options["threads"] = snakemake.threads
    else:
        log.warning("write_preview takes no threads: the encoder picks its own")
    write_preview(
        reader,
        snakemake.output.mp4,
        vmin=reader.vmin,
        vmax=reader.vmax,
        components=reader.components,
        **options,
    )
