# train rules (DESIGN.md §2) for the StyleGAN2 path: train -> select per variant,
# baseline per encoder. Methods are "sg2-<variant>" (train.variants) and
# "sg2-baseline-<encoder>"; each trained variant is one MLflow run.


rule train:
    input:
        manifest=f"{DATA}/manifests/frames.parquet",
        latents=f"{DATA}/latents/psp/index.parquet",
        weights=train_weights,
    output:
        summary=f"{MODELS}/train/{{method}}/summary.json",
    log:
        f"{MODELS}/logs/train/{{method}}.log",
    wildcard_constraints:
        method=r"sg2-(?!baseline-)[A-Za-z0-9_.-]+",
    params:
        train=train_params,
        stylegan2=config["stylegan2"],
        variant=lambda wc: sg2_variant(wc.method),
    resources:
        gpus=1,
    shell:
        "{PETRA} train --generator stylegan2 --variant {params.variant} --manifest {input.manifest} > {log:q} 2>&1"


rule select:
    input:
        summary=f"{MODELS}/train/{{method}}/summary.json",
        manifest=f"{DATA}/manifests/frames.parquet",
        codes=f"{DATA}/baseline/psp/frames.parquet",
    output:
        best=f"{MODELS}/selected/{{method}}.json",
    log:
        f"{MODELS}/logs/select/{{method}}.log",
    wildcard_constraints:
        method=r"sg2-(?!baseline-)[A-Za-z0-9_.-]+",
    params:
        select=config["select"],
        evaluate=config.get("evaluate", {}).get("backends"),
        variant=lambda wc: sg2_variant(wc.method),
    shell:
        "{PETRA} select --variant {params.variant} --manifest {input.manifest} > {log:q} 2>&1"


rule baseline:
    input:
        manifest=f"{DATA}/manifests/frames.parquet",
        latents=f"{DATA}/latents/{{encoder}}/index.parquet",
    output:
        neutrals=f"{DATA}/baseline/{{encoder}}/neutrals.pt",
        frames=f"{DATA}/baseline/{{encoder}}/frames.parquet",
    log:
        f"{DATA}/logs/baseline/{{encoder}}.log",
    wildcard_constraints:
        encoder=r"psp|e4e",
    params:
        baseline=config["baseline"],
        stylegan2=config["stylegan2"],
    shell:
        "{PETRA} baseline --encoder {wildcards.encoder} --manifest {input.manifest} > {log:q} 2>&1"


# --- mesh generator (docs/mesh_training.md): fits -> train-mesh per variant; random identities ---
# Methods "mesh-<variant>" for the keys of train_mesh.variants; "mesh-relative" needs no training.


def mesh_variants():
    return list(config.get("train_mesh", {}).get("variants", {}))


def mesh_method_inputs(wildcards):
    """What evaluating a trained mesh method needs (common.smk's eval_method_inputs unpacks this)."""
    m = wildcards.method
    if m.startswith("mesh-") and m[len("mesh-"):] in mesh_variants():
        return {"model": [f"{MODELS}/train/{m}/summary.json"]}
    return {}


def mesh_targets():
    """Default targets of the mesh path: trained variants and the random-identity figure."""
    if config["generator"]["name"] != "mesh":
        return []
    return [f"{MODELS}/train/mesh-{v}/summary.json" for v in mesh_variants()] + [
        f"{REPORTS}/figures/random_identities.png"
    ]


rule latents_mesh:
    input:
        manifest=f"{DATA}/manifests/frames.parquet",
    output:
        index=f"{DATA}/latents/mesh/index.parquet",
        rejects=f"{DATA}/latents/mesh/rejects.parquet",
    log:
        f"{DATA}/logs/latents/mesh.log",
    params:
        latents=config["latents"],
    shell:
        "{PETRA} latents --backend mesh --manifest {input.manifest} > {log:q} 2>&1"


rule train_mesh:
    input:
        manifest=f"{DATA}/manifests/frames.parquet",
        fits=f"{DATA}/latents/mesh/index.parquet",
        lpips=weight_path("lpips_alex"),
    output:
        summary=f"{MODELS}/train/{{method}}/summary.json",
    log:
        f"{MODELS}/logs/train/{{method}}.log",
    wildcard_constraints:
        method=r"mesh-(?!relative$|absolute$)[A-Za-z0-9_.-]+",
    params:
        train={k: v for k, v in config["train"].items() if k != "run"},
        train_mesh=config.get("train_mesh"),
        variant=lambda wc: wc.method[len("mesh-"):],
    threads: 2
    shell:
        "{PETRA} train-mesh --variant {params.variant} --manifest {input.manifest} > {log:q} 2>&1"


rule synth_model:
    input:
        manifest=f"{DATA}/manifests/frames.parquet",
        fits=f"{DATA}/latents/mesh/index.parquet",
    output:
        model=f"{MODELS}/synth/identity_model.npz",
    log:
        f"{MODELS}/logs/synth_model.log",
    params:
        synth=config.get("synth"),
    shell:
        "{PETRA} synth --build --manifest {input.manifest} --model {output.model} > {log:q} 2>&1"


rule synth_figure:
    input:
        model=f"{MODELS}/synth/identity_model.npz",
    output:
        figure=f"{REPORTS}/figures/random_identities.png",
    log:
        f"{MODELS}/logs/synth_figure.log",
    params:
        synth=config.get("synth"),
    shell:
        "{PETRA} synth --figure {output.figure} --model {input.model} > {log:q} 2>&1"
