"""Rule preview_page: the preview embedded in a player page for the report."""

from fieldmovie.workflow.jobs import job_logging
from fieldmovie.workflow.report import write_preview_page

snakemake = snakemake  # noqa: F821 - injected by Snakemake

with job_logging(snakemake.log[0], outputs=snakemake.output):
    write_preview_page(
        snakemake.input.mp4,
        snakemake.output.html,
        sweep=snakemake.wildcards.sweep,
        point=snakemake.wildcards.point,
        caption="Every frame of the joined movie; components side by side, colormapped "
        "over their storage ranges.",
    )
