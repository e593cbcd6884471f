# Glue shared by all rules: the resolved, schema-checked config and input functions.
import petra.config

# `configfile: params.yaml` gave the raw file (plus any --config overrides);
# resolve the selected profile over the defaults and validate it, in place.
_resolved = petra.config.resolve(config, config.get("profile"))
config.clear()
config.update(_resolved)

PROFILE = config["profile"]
DATA = config["paths"]["data"]
REPORTS = config["paths"]["reports"]
MODELS = config["paths"]["models"]
# Every `petra` call names the params file and profile it runs with.
PETRA = f"petra --profile {PROFILE}"

wildcard_constraints:
    identity=r"[^/]+",
    variant=r"[A-Za-z0-9_.-]+",


def final_targets():
    """What `snakemake` builds by default for the selected profile."""
    targets = [f"{DATA}/manifests/frames.parquet", f"{DATA}/manifests/rejects.parquet"]
    return targets
