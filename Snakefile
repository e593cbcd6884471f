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


# MLflow: every stage run of one invocation nests under one pipeline run (petra.tracking).
import uuid as _uuid

onstart:
    os.environ.setdefault("PETRA_PIPELINE_ID", f"{PROFILE}-{_uuid.uuid4().hex[:12]}")


def _finish_pipeline(status):
    try:
        import petra.tracking

        petra.tracking.finish_pipeline(status)
    except Exception as err:  # bookkeeping only: never fail the workflow for it
        print(f"MLflow pipeline run not closed: {err}")


onsuccess:
    _finish_pipeline("FINISHED")


onerror:
    _finish_pipeline("FAILED")


rule all:
    input:
        final_targets(),
