# latents rules (DESIGN.md §2): per-frame identity codes of the StyleGAN2 path, one job per
# ReStyle backend (pSp, e4e; resumable shards). The smoke profile builds its random-weight
# checkpoints here too. (The mesh fits have their own rule, latents_mesh, in train.smk.)
rule smoke_weights:
    output:
        sg2_weight_files("generator", "restyle_psp", "restyle_e4e", "arcface", "opengraphau") if config["stylegan2"].get("smoke_weights") else [],
    log:
        f"{MODELS}/logs/smoke_weights.log",
    params:
        stylegan2=config["stylegan2"],
        evaluate={"opengraphau": config["evaluate"]["opengraphau"]},
    threads: 1
    resources:
        mem_mb=4000,
        runtime=15,
    shell:
        "{PETRA} smoke-weights > {log:q} 2>&1"


rule latents:
    input:
        manifest=P("manifest_file"),
        weights=latents_weights,
    output:
        index=P("latents_dir", "{backend}", file="index.parquet"),
        rejects=P("latents_dir", "{backend}", file="rejects.parquet"),
    log:
        f"{DATA}/logs/latents/{{backend}}.log",
    wildcard_constraints:
        backend=r"psp|e4e",
    params:
        latents=config["latents"],
        stylegan2=config["stylegan2"],
    threads: 1
    resources:
        mem_mb=8000,
        runtime=240,
        gpu=1,  # a StyleGAN2-path rule: a GPU on a cluster (docs/gpu.md)
    shell:
        "{PETRA} latents --backend {wildcards.backend:q} --manifest {input.manifest:q} > {log:q} 2>&1"
