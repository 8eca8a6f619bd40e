rule simulate_segment:
    """Segment k of one point: resume from segment k-1's state, write frames and end state."""
    input:
        unpack(previous_state),
    output:
        movie=f"{POINT_DIR}/segments/{{k}}.mkv",
        times=f"{POINT_DIR}/segments/{{k}}.mkv.times",
        state=f"{POINT_DIR}/segments/{{k}}.state.npz",
    params:
        settings=segment_settings,
    log:
        "logs/{sweep}/{point}/segment_{k}.log",
    threads: 1
    resources:
        mem_mb=segment_mem_mb,
        runtime=segment_runtime,
    script:
        "../../scripts/simulate_segment.py"
