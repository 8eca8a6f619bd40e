# Shared by all rule files: the checked sweeps, wildcard constraints and input functions.
from fieldmovie.workflow import load_sweeps

SWEEPS = load_sweeps(config)  # ConfigError naming sweep and key, before any job runs
RESULTS = config["results"]
POINT_DIR = f"{RESULTS}/{{sweep}}/{{point}}"


wildcard_constraints:
    sweep=r"[^/]+",
    point=r"[^/]+",
    k=r"\d{4}",


def segment_settings(wildcards):
    """Everything a segment depends on (a rerun trigger; t_end is not part of it)."""
    return SWEEPS[wildcards.sweep].segment_settings(wildcards.point)


def previous_state(wildcards):
    """Segment k resumes from segment k-1's saved state; segment 0 starts fresh."""
    k = int(wildcards.k)
    if k == 0:
        return {}
    return {"state": f"{RESULTS}/{wildcards.sweep}/{wildcards.point}/segments/{k - 1:04d}.state.npz"}


def point_segments(wildcards):
    """All movie segments of a point up to t_end."""
    return SWEEPS[wildcards.sweep].segment_paths(wildcards.point)


def point_info(wildcards):
    """Metadata of a joined movie."""
    sweep = SWEEPS[wildcards.sweep]
    point = sweep.point(wildcards.point)
    return {
        "sweep": sweep.name,
        "point": point.name,
        "model": sweep.model,
        "parameters": point.parameters,
        "seed": point.seed,
        "segments": sweep.n_segments,
        "frame_interval": sweep.frame_interval,
        "frames_per_segment": sweep.frames_per_segment,
    }


def segment_mem_mb(wildcards):
    return SWEEPS[wildcards.sweep].mem_mb()


def segment_runtime(wildcards):
    return SWEEPS[wildcards.sweep].segment_runtime()


def movie_mem_mb(wildcards):
    # streaming decoders hold a few frames; FFmpeg itself needs little
    return SWEEPS[wildcards.sweep].mem_mb(copies=8, base=300)


def movie_runtime(wildcards):
    sweep = SWEEPS[wildcards.sweep]
    return int(10 + sweep.n_segments * sweep.segment_runtime() // 20)
