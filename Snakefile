# petra: the whole pipeline as one DAG. This file only wires (house rule 2):
# configuration, includes, and `rule all` fed by one target function.
from snakemake.utils import min_version

min_version("8.0")


configfile: "params.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/weights.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/latents.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/eval.smk"


rule all:
    input:
        final_targets(),
