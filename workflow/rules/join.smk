rule join_segments:
    """Join a point's segments with FFmpeg's concat demuxer (stream copy, no re-encode)."""
    input:
        segments=point_segments,
    output:
        movie=f"{POINT_DIR}/movie.mkv",
        times=f"{POINT_DIR}/movie.mkv.times",
    params:
        info=point_info,
    log:
        "logs/{sweep}/{point}/join.log",
    threads: 1
    resources:
        mem_mb=500,
        runtime=movie_runtime,
    script:
        "../../scripts/join_segments.py"


rule validate_movie:
    """Decode every frame; check counts, times, metadata and checksums against the segments."""
    input:
        movie=f"{POINT_DIR}/movie.mkv",
        times=f"{POINT_DIR}/movie.mkv.times",
        segments=point_segments,
    output:
        report=f"{POINT_DIR}/movie.validation.json",
    log:
        "logs/{sweep}/{point}/validate.log",
    threads: 1
    resources:
        mem_mb=500,
        runtime=movie_runtime,
    script:
        "../../scripts/validate_movie.py"
