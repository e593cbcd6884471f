# eval rules (see DESIGN.md §2, §4; docs/evaluation.md): pair list -> one job per
# method -> report. A method's job sees only the params its outputs depend on, so
# editing one generator's params reruns that method's evaluation and the report only.
# Input/params functions: common.smk ("eval.smk" section).

rule pairs:
    input:
        manifest=P("manifest_file"),
    output:
        pairs=P("pairs_path"),
    log:
        f"{DATA}/logs/pairs.log",
    params:
        evaluate={k: config["evaluate"][k] for k in EVAL_KEYS},
    params:
        tables=P("curves_dir"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    shell:
        "{PETRA} pairs --manifest {input.manifest:q} --out {output.pairs:q} > {log:q} 2>&1"


rule pair_features:
    """The evaluators' features of every pair's target and driving frames, measured once: each
    method's job then measures only its own outputs."""
    input:
        pairs=P("pairs_path"),
        evaluator_weights=eval_evaluator_weights(),
    output:
        features=P("pair_features"),
    log:
        f"{DATA}/logs/pair_features.log",
    params:
        evaluate=eval_evaluator_params(),
        align={"size": config["align"]["size"]},
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "{PETRA} pair-features --pairs {input.pairs:q} --out {output.features:q} > {log:q} 2>&1"


rule evaluate:
    input:
        unpack(eval_method_inputs),
    output:
        frames=P("eval_frames", "{method}"),
        rejects=P("eval_rejects", "{method}"),
        outputs=directory(P("eval_outputs", "{method}")),
    log:
        f"{DATA}/logs/evaluate/{{method}}.log",
    wildcard_constraints:
        method="|".join(EVAL_METHODS),  # only registry names: pairs.parquet is no method
    params:
        evaluate=eval_evaluator_params(),
        align={"size": config["align"]["size"]},
        method=eval_method_params,
    threads: 1
    resources:
        mem_mb=lambda wc: 12000 if method_gpu(wc) else 4000,
        runtime=lambda wc: 480 if method_gpu(wc) else 60,
        gpu=method_gpu,
    shell:
        "{PETRA} evaluate --method {wildcards.method:q} --pairs {input.pairs:q} --out {output.frames:q} "
        "--outputs {output.outputs:q} --features {input.features:q} > {log:q} 2>&1"


rule report:
    input:
        evals=eval_inputs(),
        pairs=P("pairs_path"),
        manifest=P("manifest_file"),
    output:
        csv=report(P("results", "csv"), caption="../report/results.rst", category="Results", labels={"table": "results (csv)"}),
        md=report(P("results", "md"), caption="../report/results.rst", category="Results", labels={"table": "results (markdown)"}),
        per_pair=f"{REPORTS}/per_pair.parquet",
        figures=[report(f, caption="../report/figures.rst", category="Figures", labels={"figure": Path(f).stem})
                 for f in REPORT_FIGURES],
        method_metrics=[P("metrics_file", m) for m in registry.evaluated_methods(config)],
        metrics=report(P("metrics_summary"), caption="../report/metrics.rst", category="Metrics",
                       labels={"file": "summary (DVC metrics)"}),
    log:
        f"{DATA}/logs/report.log",
    params:
        report=config["report"],
        evaluate={k: config["evaluate"][k] for k in ("methods", "backends")},
        generator=config["generator"],  # evaluate.methods: null = its methods
        seed=config["seed"],
        out_dir=REPORTS,
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    shell:
        "{PETRA} report --evals {input.evals:q} --pairs {input.pairs:q} --manifest {input.manifest:q} "
        "--out-dir {params.out_dir:q} > {log:q} 2>&1"


rule curves:
    input:
        summary=P("run_dir", "{method}", file="summary.json"),
    output:
        figure=report(P("figure", "train_curves_{method}"), caption="../report/curves.rst",
                      category="Training curves", labels={"method": "{method}"}),
        train=P("curves_dir", file="{method}.train.csv"),
        val=P("curves_dir", file="{method}.val.csv"),
    log:
        f"{MODELS}/logs/curves/{{method}}.log",
    wildcard_constraints:
        method="|".join(TRAINED) or "no-trained-method",
    params:
        tables=P("curves_dir"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    shell:
        "{PETRA} curves --method {wildcards.method:q} --out {output.figure:q} --tables {params.tables:q} > {log:q} 2>&1"
