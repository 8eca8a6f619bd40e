"""Final length scale of one component over the swept (F, k), from the lazy sweep dataset."""

from fieldmovie.analysis.plots import plot_phase_diagram
from fieldmovie.workflow.dataset import final_length_scale, sweep_rule

snakemake = snakemake  # noqa: F821 - injected by Snakemake

with sweep_rule(snakemake) as ds:
    table = final_length_scale(ds, snakemake.params.component).to_dataframe().reset_index()
    table.to_csv(snakemake.output.csv, index=False)
    plot_phase_diagram(table, *ds.attrs["swept_parameters"], snakemake.output.png)
