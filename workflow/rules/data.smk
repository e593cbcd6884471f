# data rules (DESIGN.md §2): ingest (a checkpoint: its listing decides the shards of
# identities) -> per-shard frames -> align -> filter -> manifest. A shard job is the
# unit Snakemake keeps or redoes; inside a job, finished clips/frames leave records,
# so a killed job resumes where it stopped (profiles/default: --rerun-incomplete).


checkpoint ingest:
    input:
        ingest_inputs(),
    output:
        videos=P("listing"),
        rejects=P("ingest_rejects"),
    log:
        f"{DATA}/logs/ingest.log",
    params:
        dataset=config["dataset"],
        ingest=config["ingest"],
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        "{PETRA} ingest > {log:q} 2>&1"


rule frames:
    input:
        videos=shard_videos,
    output:
        table=P("stage_table", "frames", "{shard}"),
        rejects=P("stage_rejects", "frames", "{shard}"),
    log:
        f"{DATA}/logs/frames/{{shard}}.log",
    params:
        frames=config["frames"],
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    shell:
        "{PETRA} frames --shard {wildcards.shard:q} > {log:q} 2>&1"


rule align:
    input:
        frames=P("stage_table", "frames", "{shard}"),
    output:
        table=P("stage_table", "align", "{shard}"),
        rejects=P("stage_rejects", "align", "{shard}"),
    log:
        f"{DATA}/logs/align/{{shard}}.log",
    params:
        align=config["align"],
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
    shell:
        "{PETRA} align --shard {wildcards.shard:q} > {log:q} 2>&1"


rule filter:
    input:
        aligned=P("stage_table", "align", "{shard}"),
    output:
        table=P("stage_table", "filter", "{shard}"),
        rejects=P("stage_rejects", "filter", "{shard}"),
    log:
        f"{DATA}/logs/filter/{{shard}}.log",
    params:
        filter=config["filter"],
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    shell:
        "{PETRA} filter --shard {wildcards.shard:q} > {log:q} 2>&1"


rule manifest:
    input:
        unpack(manifest_inputs),
    output:
        frames=P("manifest_file"),
        rejects=P("manifest_file", "rejects"),
        summary=f"{DATA}/manifests/summary.json",
    log:
        f"{DATA}/logs/manifest.log",
    params:
        manifest=config["manifest"],
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "{PETRA} manifest > {log:q} 2>&1"
