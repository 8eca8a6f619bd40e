rule simulate_segment:
    """Segment k of one point: resume from segment k-1's state, write frames and end state."""
    input:
        unpack(previous_state),
    output:
        movie=PATHS.segment(),
        times=PATHS.segment_times(),
        state=PATHS.state(),
    log:
        PATHS.log("segment", k="{k}"),
    threads: 1
    resources:
        mem_mb=segment_mem_mb,
        runtime=segment_runtime,
    params:
        spec=segment_spec,
        code=code("simulation", "simulate_segment"),
    script:
        "../../scripts/simulate_segment.py"
