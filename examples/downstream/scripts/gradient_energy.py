"""Mean squared gradient of every component, per frame and point (streams each movie)."""

import csv

import numpy as np

from fieldmovie.movie.validate import open_validated

snakemake = snakemake  # noqa: F821 - injected by Snakemake

with open(snakemake.log[0], "w") as log, open(snakemake.output.csv, "w", newline="") as fh:
    writer = csv.writer(fh)
    writer.writerow(["movie", "time", "component", "mean_squared_gradient"])
    for movie, report in zip(snakemake.input.movies, snakemake.input.reports, strict=True):
        reader = open_validated(movie, report)
        lengths, shape = reader.grid_length, reader.grid_shape
        spacing = [length / n for length, n in zip(lengths, shape, strict=True)]
        for t, frame in reader:  # one frame at a time: memory stays bounded
            for name, field in zip(reader.components, frame, strict=True):
                grads = np.gradient(field, *spacing)
                grads = grads if isinstance(grads, list | tuple) else [grads]
                writer.writerow([movie, t, name, float(sum((g**2).mean() for g in grads))])
        print(f"{movie}: {len(reader)} frames", file=log)
