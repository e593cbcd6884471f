# train rules (DESIGN.md §2): train -> select for every trained method of every generator
# (petra.generators parses the names; each generator's train_rule hook says what its run
# reads), the StyleGAN2 baseline per encoder, and the mesh generator's fits and random
# identities. Each trained method is one MLflow run and one models/train/<method>/.


rule train:
    input:
        unpack(train_inputs),
    output:
        summary=f"{MODELS}/train/{{method}}/summary.json",
    log:
        f"{MODELS}/logs/train/{{method}}.log",
    wildcard_constraints:
        method="|".join(TRAINED) or "no-trained-method",
    params:
        method=train_params,
    threads: 2
    resources:
        gpus=lambda wc: 1 if registry.parse(wc.method, config).generator == "stylegan2" else 0,
    shell:
        "{PETRA} train --method {wildcards.method:q} --manifest {input.manifest:q} > {log:q} 2>&1"


rule select:
    input:
        unpack(select_inputs),
    output:
        best=f"{MODELS}/selected/{{method}}.json",
    log:
        f"{MODELS}/logs/select/{{method}}.log",
    wildcard_constraints:
        method="|".join(TRAINED) or "no-trained-method",
    params:
        select=config["select"],
        evaluate=config.get("evaluate", {}).get("backends"),
    shell:
        "{PETRA} select --method {wildcards.method:q} --manifest {input.manifest:q} > {log:q} 2>&1"


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
        "{PETRA} baseline --encoder {wildcards.encoder:q} --manifest {input.manifest:q} > {log:q} 2>&1"


# --- mesh generator (docs/mesh_training.md): fits; random identities ---


def mesh_targets():
    """Default targets of the mesh path: trained variants and the random-identity figure."""
    if config["generator"]["name"] != "mesh":
        return []
    return [f"{REPORTS}/figures/random_identities.png"]


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
        "{PETRA} latents --backend mesh --manifest {input.manifest:q} > {log:q} 2>&1"



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
        "{PETRA} synth --build --manifest {input.manifest:q} --model {output.model:q} > {log:q} 2>&1"


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
        "{PETRA} synth --figure {output.figure:q} --model {input.model:q} > {log:q} 2>&1"
