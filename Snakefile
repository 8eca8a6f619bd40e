# fieldmovie: parameter sweeps of PDE simulations, run in segments, stored as FFV1 movies.
# This file only checks the config and includes the rules; see README.md.
from snakemake.utils import min_version, validate

from fieldmovie.workflow import check_config

min_version("9.0")


configfile: "config.yaml"


# clear errors naming sweep and key (exponent numbers like 1e-5 accepted), then defaults
check_config(config, workflow.source_path("workflow/schemas/config.schema.yaml"))
validate(config, schema="workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/join.smk"
include: "workflow/rules/analysis.smk"


report: "workflow/report/workflow.rst"


rule all:
    input:
        [path for sweep in SWEEPS.values() for path in sweep.validation_paths()],
        analysis_targets(),
    default_target: True
