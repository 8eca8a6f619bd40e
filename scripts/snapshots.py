"""Rule snapshots: a PNG grid of frames across the run."""

from fieldmovie.jobs import job_logging
from fieldmovie.preview import snapshot_indices, write_snapshots
from fieldmovie.validate import open_validated

snakemake = snakemake  # noqa: F821 - injected by Snakemake

with job_logging(snakemake.log[0]):
    reader = open_validated(snakemake.input.movie, snakemake.input.report)
    indices = snapshot_indices(len(reader), snakemake.params.frames)
    write_snapshots(
        list(zip(reader.times[indices], reader.read_frames(indices), strict=True)),
        snakemake.output.png,
        vmin=reader.vmin,
        vmax=reader.vmax,
        components=reader.components,
        cmap=snakemake.params.cmap,
        grid_length=reader.grid_length,
        title=f"{reader.info.get('sweep', '')} {reader.info.get('point', '')}",
    )
