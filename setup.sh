#!/usr/bin/env bash
# One-command setup on a fresh machine (Python 3.11, CPU): petra, its pinned
# dependencies from the package registries, and the offline model files.
set -euo pipefail
cd "$(dirname "$0")"
PIP="${PIP:-python -m pip}"
$PIP install -q -e '.[dev]'
# mediapipe 0.10.14 is the last release whose wheel ships the face-mesh, iris and
# detector models; its metadata asks for jax, which petra never uses: skip deps.
$PIP install -q --no-deps 'mediapipe==0.10.14'
$PIP uninstall -q -y jax jaxlib 2>/dev/null || true
# pymatting compiles its numba kernels on its first import (~1 min of CPU, cached in its
# package): do it here rather than in the first transfer
python -c "import pymatting"
python -m petra.cli weights --offline-assets
