# Glue shared by all rules: the resolved, schema-checked config and input functions.
import os

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
    shard=r"s[0-9]+",
    variant=r"[A-Za-z0-9_.-]+",


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
        "poses": [f"{DATA}/filter/_shards/{s}.parquet" for s in shards],
        "rejects": [f"{DATA}/{d}/_shards/{s}.rejects.parquet" for d in ("frames", "aligned", "filter") for s in shards],
    }


# --- weights.smk: the registry (src/petra/weights.py) decides file names, URLs, sha256 ---
import petra.weights as _weights

# filename -> registry entry, for every official file `petra weights --fetch` can download
FETCHABLE = {w.filename: w for w in _weights.REGISTRY.values() if w.kind == "official" and w.url}


def weight_path(name):
    """Destination of registry entry `name` under this profile's models folder (an input for rules)."""
    return f"{MODELS}/weights/{_weights.REGISTRY[name].filename}"


# --- eval.smk: pair list -> one evaluate job per method -> report ---
EVAL_KEYS = ("pairs_seed", "splits", "cross_pairs", "self_pairs", "frames_per_video")


def eval_method_params(wildcards):
    """Config a method's outputs depend on besides the evaluators (Snakemake reruns on change)."""
    m = wildcards.method
    if m.startswith("copy-"):
        return {}
    if m.startswith("sg2-baseline-"):
        return {"baseline": config.get("baseline"), "stylegan2": config.get("stylegan2")}
    if m.startswith("sg2-"):
        return train_params(wildcards)  # train.smk: this variant's view of `train`
    if m.startswith("mesh-"):
        sections = ["mesh", "train_mesh"] if m not in ("mesh-relative", "mesh-absolute") else ["mesh"]
        return {s: config.get(s) for s in sections}
    return {"generator": config.get("generator")}


def eval_method_inputs(wildcards):
    """The pair list plus what the method needs on disk (checkpoints, codes, weights)."""
    inputs = {"pairs": f"{DATA}/eval/pairs.parquet", "evaluator_weights": eval_evaluator_weights()}
    for fn in ("sg2_method_inputs", "mesh_method_inputs"):  # provided by train.smk / the mesh rules
        if fn in globals():
            for k, v in globals()[fn](wildcards).items():
                inputs[f"{fn.split('_')[0]}_{k}"] = v
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


def eval_inputs():
    return expand(f"{DATA}/eval/{{method}}.parquet", method=config["evaluate"]["methods"])


REPORT_FIGURES = [
    f"{REPORTS}/figures/{name}.png"
    for name in ("cross_reenactment", "self_reenactment", "landmark_ratio_retrieval", "metric_curves")
]


# --- latents.smk / train.smk: the StyleGAN2 path (docs/gpu.md) ---
def sg2_weight_files(*keys):
    """StyleGAN2-path weights (generator, restyle_psp, restyle_e4e, arcface) and the AU model
    (opengraphau): the smoke profile's random-weight files, else the official files where the
    registry puts them (weights.smk fetches them; a missing one stops only the rules that need
    it, naming the file)."""
    from petra.train.sg2_parts import registry_name, smoke_file

    if config["stylegan2"].get("smoke_weights"):
        return [str(smoke_file(config, k)) for k in keys]
    return [weight_path(registry_name(config, k)) for k in keys]


def latents_weights(wildcards):
    return sg2_weight_files(f"restyle_{wildcards.backend}")


def sg2_variant(method):
    return method[len("sg2-"):]


def train_params(wildcards):
    """The train section as this variant sees it (a change to another variant reruns nothing here)."""
    v = sg2_variant(wildcards.method)
    t = {k: val for k, val in config["train"].items() if k not in ("variants", "run")}
    return {**t, "variants": {v: config["train"]["variants"].get(v)}}


def train_weights(wildcards):
    """G, ArcFace (ID loss, E_m init) and LPIPS."""
    return sg2_weight_files("generator", "arcface") + [weight_path(f"lpips_{config['train'].get('lpips_net', 'alex')}")]


def sg2_method_inputs(wildcards):
    """What evaluating an sg2 method needs besides the pairs (eval_method_inputs unpacks this)."""
    m = wildcards.method
    if m.startswith("sg2-baseline-"):
        enc = m[len("sg2-baseline-"):]
        return {"model": [f"{DATA}/baseline/{enc}/neutrals.pt", f"{DATA}/baseline/{enc}/frames.parquet"]
                + sg2_weight_files("generator", f"restyle_{enc}")}
    if m.startswith("sg2-"):
        return {"model": [f"{MODELS}/selected/{m}.json", f"{DATA}/baseline/psp/frames.parquet"]}
    return {}


def sg2_targets():
    """Default targets of the StyleGAN2 path (selected checkpoints and baseline codes)."""
    if config["generator"]["name"] != "stylegan2":
        return []
    return [f"{MODELS}/selected/sg2-{v}.json" for v in config["train"]["run"]] + [
        f"{DATA}/baseline/{e}/neutrals.pt" for e in config["baseline"]["encoders"]
    ]


def final_targets():
    """What `snakemake` builds by default for the selected profile."""
    targets = [f"{DATA}/manifests/frames.parquet", f"{DATA}/manifests/rejects.parquet"]
    targets += [f"{REPORTS}/results.csv", f"{REPORTS}/results.md"]  # eval.smk: pairs -> evaluate -> report
    targets += sg2_targets()  # latents.smk/train.smk: selected sg2 checkpoints and baseline codes
    targets += mesh_targets()  # train.smk: trained mesh variants and the random-identity figure
    return targets
