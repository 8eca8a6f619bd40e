"""Rule observables: stream the validated movie frame by frame into observables.csv."""

from fieldmovie.analysis.observables import write_observables_csv
from fieldmovie.movie.validate import open_validated
from fieldmovie.workflow.jobs import job_logging

snakemake = snakemake  # noqa: F821 - injected by Snakemake

with job_logging(snakemake.log[0], outputs=snakemake.output):
    reader = open_validated(snakemake.input.movie, snakemake.input.report)
    write_observables_csv(reader, snakemake.output.csv)
