"""Rule simulate_segment: simulate segment k of one point into a movie segment + state."""

from fieldmovie.simulation.segment import run_segment
from fieldmovie.simulation.spec import SegmentSpec
from fieldmovie.workflow.jobs import job_logging

snakemake = snakemake  # noqa: F821 - injected by Snakemake

with job_logging(snakemake.log[0], outputs=snakemake.output):
    run_segment(
        SegmentSpec.from_dict(snakemake.params.spec),
        int(snakemake.wildcards.k),
        movie=snakemake.output.movie,
        state_out=snakemake.output.state,
        state_in=snakemake.input.get("state"),
    )
