rule join_segments:
    """Join a point's segments with FFmpeg's concat demuxer (stream copy, no re-encode)."""
    input:
        segments=point_segments,
    output:
        movie=PATHS.movie(),
        times=PATHS.movie_times(),
    log:
        PATHS.log("join"),
    threads: 1
    resources:
        mem_mb=grow(lambda wildcards: 500),
        runtime=movie_runtime,
    params:
        info=point_info,
        code=code("movie", "join_segments"),
    script:
        "../../scripts/join_segments.py"


rule validate_movie:
    """Decode every frame; check counts, times, metadata and checksums against the segments."""
    input:
        movie=PATHS.movie(),
        times=PATHS.movie_times(),
        segments=point_segments,
    output:
        report=PATHS.validation(),
    log:
        PATHS.log("validate"),
    threads: 1
    resources:
        mem_mb=grow(lambda wildcards: 500),
        runtime=movie_runtime,
    params:
        code=code("movie", "validate_movie"),
    script:
        "../../scripts/validate_movie.py"
