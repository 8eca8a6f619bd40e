"""Rule simulate_segment: simulate segment k of one point into a movie segment + state."""

from fieldmovie.simulation.segment import run_segment
from fieldmovie.workflow.jobs import job_logging

snakemake = snakemake  # noqa: F821 - injected by Snakemake

with job_logging(snakemake.log[0]):
    run_segment(
        snakemake.params.settings,
        int(snakemake.wildcards.k),
        movie=snakemake.output.movie,
        state_out=snakemake.output.state,
        state_in=snakemake.input.get("state"),
    )
