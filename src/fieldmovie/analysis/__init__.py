"""Analysis of decoded movies: observables, sweep summaries, plots, previews and snapshots."""
