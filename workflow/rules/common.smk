# Glue shared by all rules: the resolved, schema-checked config and input functions.
import os
import re
from pathlib import Path

import petra.config
import petra.generators as registry
import petra.paths

# `configfile: params.yaml` gave the raw file (plus any --config overrides);
# resolve the selected profile over the defaults and validate it, in place.
_resolved = petra.config.resolve(config, config.get("profile"))
config.clear()
config.update(_resolved)

PROFILE = config["profile"]
DATA = config["paths"]["data"]
REPORTS = config["paths"]["reports"]
MODELS = config["paths"]["models"]


def P(name, *args, file=None):
    """An artifact path from petra.paths (the one place paths are built), as a string for the rules;
    wildcards like "{method}" pass through. ``file`` names a file inside a folder path."""
    path = getattr(petra.paths, name)(config, *args)
    return str(path / file if file else path)


# Every `petra` call names the params file and profile it runs with. Shell commands quote
# every path (`{input.x:q}`): a data folder with a space in its name must work.
import shlex

PETRA = f"petra --profile {shlex.quote(PROFILE)}"

wildcard_constraints:
    identity=r"[^/]+",
    shard=r"s[0-9]+",
    variant=r"[A-Za-z0-9_.-]+",


def method_gpu(wildcards):
    """1 for a StyleGAN2-path method (a GPU rule on a cluster), 0 for the CPU mesh path and reference rows."""
    return int(registry.parse(wildcards.method, config).generator == "stylegan2")


# --- data.smk input functions (the ingest checkpoint decides the shards of identities) ---
def ingest_inputs():
    """The sample mirror's SOURCES.tsv or the URL list, when present (edits rerun ingest)."""
    ds = config["dataset"]
    files = [f"{ds['mirror']}/SOURCES.tsv"] if ds["source"] == "mirror" and ds.get("mirror") else []
    files += [ds["url_list"]] if ds.get("url_list") else []
    return [f for f in files if os.path.isfile(f)]


def _listing():
    import pandas as pd

    return pd.read_parquet(checkpoints.ingest.get().output.videos)


def data_shards():
    return sorted(set(_listing()["shard"]))


def shard_videos(wildcards):
    """The clips of one shard (their files: a changed clip reruns its shard)."""
    df = _listing()
    return sorted(df.loc[df["shard"] == wildcards.shard, "path"])


def manifest_inputs(wildcards):
    shards = data_shards()
    return {
        "listing": checkpoints.ingest.get().output.videos,
        "ingest_rejects": checkpoints.ingest.get().output.rejects,
        "poses": [P("stage_table", "filter", s) for s in shards],
        "rejects": [P("stage_rejects", d, s) for d in ("frames", "align", "filter") for s in shards],
    }


# --- weights.smk: the registry (src/petra/weights.py) decides file names, URLs, sha256 ---
import petra.weights as _weights

# filename -> registry entry, for every official file `petra weights --fetch` can download
FETCHABLE = {w.filename: w for w in _weights.REGISTRY.values() if w.kind == "official" and w.url}


def weight_path(name):
    """Destination of registry entry `name` under this profile's models folder (an input for rules);
    a file shipped in petra's package is where the package is."""
    if _weights.REGISTRY[name].kind == "shipped":
        return str(_weights.destination(config, name))
    return f"{MODELS}/weights/{_weights.REGISTRY[name].filename}"


# --- eval.smk: pair list -> one evaluate job per method -> report ---
EVAL_KEYS = ("pairs_seed", "splits", "cross_pairs", "self_pairs", "frames_per_video")


def eval_method_params(wildcards):
    """Config a method's outputs depend on besides the evaluators (Snakemake reruns on change)."""
    return registry.method_params(wildcards.method, config)


def eval_method_inputs(wildcards):
    """The pair list plus what the method needs on disk (selected checkpoint, codes, weights)."""
    m = registry.parse(wildcards.method, config)
    inputs = {"pairs": P("pairs_path"), "features": P("pair_features"), "evaluator_weights": eval_evaluator_weights()}
    if m.trained:
        inputs["model"] = [P("selected_path", m.name)] + train_rule(m).get("select_inputs", [])
    elif m.kind == "baseline":  # sg2-baseline-<encoder>: per-video neutral codes and the encoder
        enc = m.variant.removeprefix("baseline-")
        inputs["model"] = [P("baseline_dir", enc, file="neutrals.pt"), P("baseline_dir", enc, file="frames.parquet")] + \
            sg2_weight_files("generator", f"restyle_{enc}")
    elif m.kind == "pretrained":  # a downloaded network (sg2-thesis-released): its file, E_i weights and codes
        r = registry.package(m).pretrained_rule(config, m)
        inputs["model"] = r["inputs"] + _weight_files(r["weights"])
    return inputs


def eval_evaluator_weights():
    """Weight files of the thesis evaluators the profile selects (the offline ones need none)."""
    b = config["evaluate"]["backends"]
    files = [weight_path("hopenet")] if b["pose"] == "hopenet" else []
    files += [weight_path("irse50_arcface")] if b["identity"] == "arcface" else []
    files += sg2_weight_files("opengraphau") if b["au"] == "opengraphau" else []
    return files


def eval_evaluator_params():
    """Everything of `evaluate:` except the method list (adding a method reruns nothing else)."""
    return {k: v for k, v in config["evaluate"].items() if k != "methods"}


EVAL_METHODS = sorted({re.escape(m) for m in registry.all_methods(config) + registry.evaluated_methods(config)})


def eval_inputs():
    return expand(P("eval_frames", "{method}"), method=registry.evaluated_methods(config))


def curve_targets():
    """The training-curve figure of every trained method the profile evaluates (report category)."""
    return [P("figure", f"train_curves_{m}") for m in registry.evaluated_methods(config) if m in TRAINED]


REPORT_FIGURES = [
    P("figure", name)
    for name in ("cross_reenactment", "self_reenactment", "landmark_ratio_retrieval", "metric_curves")
]


# --- latents.smk / train.smk: the StyleGAN2 path (docs/gpu.md) ---
def sg2_weight_files(*keys):
    """StyleGAN2-path weights (generator, restyle_psp, restyle_e4e, arcface) and the AU model
    (opengraphau): the smoke profile's random-weight files, else the official files where the
    registry puts them (weights.smk fetches them; a missing one stops only the rules that need
    it, naming the file)."""
    from petra.zoo import registry_name, smoke_file

    if config["stylegan2"].get("smoke_weights"):
        return [str(smoke_file(config, k)) for k in keys]
    return [weight_path(registry_name(config, k)) for k in keys]


def latents_weights(wildcards):
    return sg2_weight_files(f"restyle_{wildcards.backend}")


# --- train.smk: one train and one select rule for every trained method of every generator ---
TRAINED = registry.trained_methods(config)


def train_rule(method):
    """The generator's view of a trained method's rule: inputs, weight files, params (only what it reads)."""
    m = registry.parse(method, config) if isinstance(method, str) else method
    return registry.package(m).train_rule(config, m)


def _weight_files(names):
    """Registry names, or "sg2:<key>" for the StyleGAN2 path's (smoke or official) files."""
    return [f for n in names for f in (sg2_weight_files(n[4:]) if n.startswith("sg2:") else [weight_path(n)])]


def train_inputs(wildcards):
    r = train_rule(wildcards.method)
    return {"manifest": P("manifest_file"), **r["inputs"], "weights": _weight_files(r.get("weights", []))}


def train_params(wildcards):
    return train_rule(wildcards.method)["params"]


def select_inputs(wildcards):
    return {"summary": P("run_dir", wildcards.method, file="summary.json"),
            "manifest": P("manifest_file"),
            "extra": train_rule(wildcards.method).get("select_inputs", [])}


def sg2_targets():
    """Default targets of the StyleGAN2 path (baseline codes; trained methods come in through evaluation)."""
    if config["generator"]["name"] != "stylegan2":
        return []
    return [P("baseline_dir", e, file="neutrals.pt") for e in config["baseline"]["encoders"]]


def final_targets():
    """What `snakemake` builds by default for the selected profile."""
    targets = [P("manifest_file"), P("manifest_file", "rejects")]
    targets += [P("results", "csv"), P("results", "md")]  # eval.smk: pairs -> evaluate -> report
    targets += sg2_targets()  # latents.smk/train.smk: selected sg2 checkpoints and baseline codes
    targets += mesh_targets()  # train.smk: trained mesh variants and the random-identity figure
    targets += curve_targets()  # eval.smk: a training-curve figure per trained, evaluated method
    return targets
