# train rules (DESIGN.md §2): train -> select for every trained method of every generator
# (petra.generators parses the names; each generator's train_rule hook says what its run
# reads), the StyleGAN2 baseline per encoder, and the mesh generator's fits and random
# identities. Each trained method is one MLflow run and one models/train/<method>/.


rule train:
    input:
        unpack(train_inputs),
    output:
        summary=P("run_dir", "{method}", file="summary.json"),
    log:
        f"{MODELS}/logs/train/{{method}}.log",
    wildcard_constraints:
        method="|".join(TRAINED) or "no-trained-method",
    params:
        method=train_params,
    threads: 2
    priority: 1  # start the long two-thread jobs first; the one-thread evaluations fill in around them
    resources:
        mem_mb=lambda wc: 16000 if method_gpu(wc) else 6000,
        runtime=lambda wc: 2880 if method_gpu(wc) else 240,  # minutes; the thesis run is ~2 days on one GPU
        gpu=method_gpu,
    shell:
        "{PETRA} train --method {wildcards.method:q} --manifest {input.manifest:q} > {log:q} 2>&1"


rule select:
    input:
        unpack(select_inputs),
    output:
        best=P("selected_path", "{method}"),
    log:
        f"{MODELS}/logs/select/{{method}}.log",
    wildcard_constraints:
        method="|".join(TRAINED) or "no-trained-method",
    params:
        select=config["select"],
        evaluate=config.get("evaluate", {}).get("backends"),
    threads: 1
    priority: 1
    resources:
        mem_mb=lambda wc: 12000 if method_gpu(wc) else 4000,
        runtime=lambda wc: 240 if method_gpu(wc) else 60,
        gpu=method_gpu,
    shell:
        "{PETRA} select --method {wildcards.method:q} --manifest {input.manifest:q} > {log:q} 2>&1"


rule baseline:
    input:
        manifest=P("manifest_file"),
        latents=P("latents_dir", "{encoder}", file="index.parquet"),
    output:
        neutrals=P("baseline_dir", "{encoder}", file="neutrals.pt"),
        frames=P("baseline_dir", "{encoder}", file="frames.parquet"),
    log:
        f"{DATA}/logs/baseline/{{encoder}}.log",
    wildcard_constraints:
        encoder=r"psp|e4e",
    params:
        baseline=config["baseline"],
        stylegan2=config["stylegan2"],
    threads: 1
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=1,  # a StyleGAN2-path rule: a GPU on a cluster (docs/gpu.md)
    shell:
        "{PETRA} baseline --encoder {wildcards.encoder:q} --manifest {input.manifest:q} > {log:q} 2>&1"


# --- mesh generator (docs/mesh_training.md): fits; random identities ---


def mesh_targets():
    """Default targets of the mesh path: trained variants and the random-identity figure."""
    if config["generator"]["name"] != "mesh":
        return []
    return [P("figure", "random_identities")]


rule latents_mesh:
    input:
        manifest=P("manifest_file"),
    output:
        index=P("latents_dir", "mesh", file="index.parquet"),
        rejects=P("latents_dir", "mesh", file="rejects.parquet"),
    log:
        f"{DATA}/logs/latents/mesh.log",
    params:
        latents=config["latents"],
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    shell:
        "{PETRA} latents --backend mesh --manifest {input.manifest:q} > {log:q} 2>&1"



rule synth_model:
    input:
        manifest=P("manifest_file"),
        fits=P("latents_dir", "mesh", file="index.parquet"),
    output:
        model=P("synth_model"),
    log:
        f"{MODELS}/logs/synth_model.log",
    params:
        synth=config.get("synth"),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    shell:
        "{PETRA} synth --build --manifest {input.manifest:q} --model {output.model:q} > {log:q} 2>&1"


rule synth_figure:
    input:
        model=P("synth_model"),
    output:
        figure=P("figure", "random_identities"),
    log:
        f"{MODELS}/logs/synth_figure.log",
    params:
        synth=config.get("synth"),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "{PETRA} synth --figure {output.figure:q} --model {input.model:q} > {log:q} 2>&1"


# --- the mesh refinement (mesh-ours-gen, docs/mesh_refine.md) ---
rule refine_data:
    input:
        manifest=P("manifest_file"),
    output:
        done=P("refine_data_dir", "{source}", file="done.json"),
    log:
        f"{DATA}/logs/refine_data/{{source}}.log",
    wildcard_constraints:
        source="manifest",  # the clips set belongs to the full profile (rule train_full)
    params:
        train_mesh={"refine": {"data": config["train_mesh"]["refine"]["data"]}},
        align=config["align"],
        mesh={k: v for k, v in config["mesh"].items() if k != "method"},
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "{PETRA} refine-data --source {wildcards.source} --manifest {input.manifest:q} > {log:q} 2>&1"


rule train_full:
    """The shipped mesh-ours-gen trained from zero (profile `full`: every 2nd frame of the training
    clips, ~45 min on 2 CPU cores), selected and written in the shipped format. Shipping it =
    copying the file (and its .curves.json) into src/petra/generators/mesh/refine/ and its printed sha256 into the
    registry (petra.weights), in one commit."""
    input:
        manifest=P("manifest_file"),
    output:
        shipped=f"{MODELS}/full/shipped/mesh_ours_gen.pt",
    log:
        f"{MODELS}/full/logs/train_full.log",
    threads: 2
    resources:
        mem_mb=12000,
        runtime=180,
    shell:
        "(petra --profile full weights --offline-assets"
        " && petra --profile full refine-data --manifest {input.manifest:q}"
        " && petra --profile full train --method mesh-ours-gen --manifest {input.manifest:q}"
        " && petra --profile full select --method mesh-ours-gen --manifest {input.manifest:q}"
        " && petra --profile full ship --method mesh-ours-gen --out {output.shipped:q}) > {log:q} 2>&1"
