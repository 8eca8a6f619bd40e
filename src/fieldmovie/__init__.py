"""fieldmovie: lossless FFV1 movies of PDE fields and Snakemake sweeps that write them."""

__version__ = "0.1.0"
