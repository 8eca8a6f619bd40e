# fieldmovie's workflow lives in workflow/Snakefile (where the workflow catalog and
# `module` users look for it); this file lets `snakemake` run from the repository's top.


include: "workflow/Snakefile"


# an include does not pass on its default target: this file's default is the workflow's `all`
localrules:
    default,


rule default:
    default_target: True
    input:
        rules.all.input,
