"""``petra transfer``: animate a target portrait with a driving image or video.

    petra transfer --target IMG --driving IMG|VIDEO --out IMG|VIDEO [--method NAME]
                   [--mode relative|absolute] [--expression-scale X] [--size 256|512] [--no-paste-back]
                   [--face-index N] [--driving-face-index N] [--strict]

``--method`` picks the method (default ``mesh.method`` in params.yaml: the best measured
one): ``mesh-relative`` / ``mesh-absolute`` (the hand-made transfer in that mode),
``mesh-ours-gen`` (the hand-made transfer + the learned refinement; its selected
checkpoint, else the shipped one), or any other method of the registry that has its
weights (``mesh-ours``, ``sg2-*``): that one is driven with the aligned crops and its
output is pasted back the same way. ``--method models:/NAME/VERSION`` (or ``models:/NAME/latest``,
``models:/NAME@ALIAS``) runs the checkpoint ``petra select`` registered in the MLflow model
registry for method NAME (the project's ``mlflow.db`` or ``$MLFLOW_TRACKING_URI``).

The output is the target photo with the transferred face pasted back (default) or
the aligned crop (``--no-paste-back``). A driving video is read twice: first its
landmarks (tracked and One-Euro smoothed), from which the driver's neutral face over
the whole clip is estimated (relative mode's reference), then it is streamed frame by
frame into an H.264 file that keeps the driving video's audio. A single driving
image uses absolute mode unless told otherwise, and says so on stderr.

Bad input (missing file, not an image/video, no face, an output that is an input or
cannot be written) ends in one line naming the file and the reason, and exit status 2,
before any work. Photos are read upright (EXIF orientation); with several faces the
largest is used unless an index is given, and one line says which and how many; a
partly undecodable driving video gives a warning with frame counts (an error with
``--strict``).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Mapping

from petra.config import load
from petra.errors import InputError, require_file
from petra.io import clean_temporaries, write_image
from petra.media import MIN_SIDE, read_image, too_small
from petra.outputs import check_output
from petra.tracking import fetch_registered, is_model_uri
from petra.video import VideoWriter, expected_frames, iter_frames, probe

IMAGE_EXT = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}
VIDEO_EXT = {".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v"}
OUT_IMAGE_EXT = {".png", ".jpg", ".jpeg"}
OUT_VIDEO_EXT = {".mp4", ".mov", ".mkv"}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", required=True, help="target portrait (image)")
    parser.add_argument("--driving", required=True, help="driving image or video")
    parser.add_argument("--out", required=True, help="output image (.png/.jpg) or video (.mp4/.mov/.mkv)")
    parser.add_argument("--method", default=None,
                        help="mesh-relative | mesh-absolute | mesh-ours-gen | any trained method with weights | "
                             "models:/NAME/VERSION or models:/NAME/latest (a checkpoint in the MLflow model "
                             "registry) (default: mesh.method in params.yaml)")
    parser.add_argument("--mode", choices=["relative", "absolute"], default=None,
                        help="relative (video default: the driver's change from its neutral face, added to the "
                             "target's expression) or absolute (image default: the driver's expression replaces the "
                             "target's)")
    parser.add_argument("--expression-scale", type=float, default=None,
                        help="multiply the transferred expression (1 = as the driver does it)")
    parser.add_argument("--size", type=int, choices=[256, 512], default=None, help="aligned crop side")
    parser.add_argument("--no-paste-back", action="store_true", help="write the aligned crop only")
    parser.add_argument("--face-index", type=int, default=None, metavar="N",
                        help="target face to use, numbered from 0 left to right (default: the largest)")
    parser.add_argument("--driving-face-index", type=int, default=None, metavar="N",
                        help="driving face to follow, numbered from 0 left to right where it is first seen "
                             "(default: the largest)")
    parser.add_argument("--strict", action="store_true",
                        help="a partly undecodable driving video is an error (default: a warning)")


def main(args: argparse.Namespace) -> int:

    cfg = load(args.params, args.profile)
    summary = run_transfer(cfg, args.target, args.driving, args.out, method=args.method, mode=args.mode, size=args.size,
                           paste_back=False if args.no_paste_back else None,
                           expression_scale=args.expression_scale, face_index=args.face_index,
                           driving_face_index=args.driving_face_index, strict=args.strict)
    print(json.dumps(summary))
    return 0


def _is_video(path: Path) -> bool:
    """Decide image vs video by extension, else by content (an image decoder's verdict)."""
    ext = path.suffix.lower()
    if ext in VIDEO_EXT:
        return True
    if ext in IMAGE_EXT:
        return False
    import cv2
    import numpy as np

    head = np.fromfile(str(path), dtype=np.uint8, count=1 << 20)
    return cv2.imdecode(head, cv2.IMREAD_UNCHANGED) is None


def run_transfer(cfg: Mapping[str, Any], target: str | Path, driving: str | Path, out: str | Path,
                 mode: str | None = None, size: int | None = None, paste_back: bool | None = None,
                 expression_scale: float | None = None, face_index: int | None = None,
                 driving_face_index: int | None = None, strict: bool = False, method: str | None = None) -> dict[str, Any]:
    """Transfer ``driving`` onto ``target`` and write ``out``; returns a summary dict.

    Everything that can be checked without the work is checked first: both inputs are
    readable files, the output is of the right kind, is neither input and can be written.
    A registry ``method`` (``models:/NAME/VERSION``) is downloaded to a temporary folder for the run.
    """
    with tempfile.TemporaryDirectory(prefix="petra-model-") as tmp:
        registered = fetch_registered(str(method), tmp) if is_model_uri(method) else None
        summary = _transfer(cfg, Path(target), Path(driving), Path(out), registered.name if registered else method,
                            registered.path if registered else None, mode=mode, size=size, paste_back=paste_back,
                            expression_scale=expression_scale, face_index=face_index,
                            driving_face_index=driving_face_index, strict=strict)
    if registered:
        summary["model"] = f"models:/{registered.name}/{registered.version}"
    return summary


def _transfer(cfg: Mapping[str, Any], target: Path, driving: Path, out: Path, method: str | None,
              checkpoint: Path | None, mode: str | None, size: int | None, paste_back: bool | None,
              expression_scale: float | None, face_index: int | None, driving_face_index: int | None,
              strict: bool) -> dict[str, Any]:
    from petra.generators.mesh.render.transfer import MeshConfig, Transfer

    from petra import generators

    m = generators.parse(method or cfg["mesh"]["method"], cfg)
    if m.kind == "handmade" and method:  # named explicitly: its mode, unless --mode says otherwise
        mode = mode or m.variant
    mc = MeshConfig.from_params(cfg, mode=mode, size=size, paste_back=paste_back, expression_scale=expression_scale)
    require_file(target, "an image")
    require_file(driving, "an image or a video")
    check_output(out, [target, driving])
    video = _is_video(driving)
    out_ext = out.suffix.lower()
    if video and out_ext not in OUT_VIDEO_EXT:
        raise InputError(out, f"a driving video needs a video output ({', '.join(sorted(OUT_VIDEO_EXT))})")
    if not video and out_ext not in OUT_IMAGE_EXT:
        raise InputError(out, f"a driving image needs an image output ({', '.join(sorted(OUT_IMAGE_EXT))})")
    left = clean_temporaries(out.parent, of=out.name)
    if left:
        print(f"petra transfer: removed {len(left)} temporary file(s) an interrupted run left for {out}", file=sys.stderr)
    timg = read_image(target)
    info = _check_video(driving) if video else None
    t0 = time.perf_counter()
    refiner = method_refiner(cfg, m, checkpoint) if m.kind != "handmade" else None
    tr = Transfer(timg, mc, video=video, path=str(target), face_index=face_index,
                  driving_face_index=driving_face_index, refiner=refiner)
    if isinstance(refiner, CropReenactor):
        refiner.start(tr.crop)
    _say_choice(tr.target_choice, target, "--face-index")
    if not video and mc.mode == "auto":
        print(f"petra transfer: {driving}: a single driving image uses absolute mode "
              "(its expression replaces the target's; --mode relative to override)", file=sys.stderr)
    try:
        n = _run_video(tr, driving, out, info, strict) if video else _run_image(tr, driving, out)
    finally:
        tr.close()
    dt = time.perf_counter() - t0
    summary = {"target": str(target), "driving": str(driving), "out": str(out), "method": m.name, "mode": tr.mode,
               "size": mc.size, "paste_back": mc.paste_back, "frames": n, "seconds": round(dt, 2)}
    print(f"petra transfer: {n} frame(s) {tr.mode} -> {out} in {dt:.1f} s", file=sys.stderr)
    return summary


def method_refiner(cfg: Mapping[str, Any], m: Any, checkpoint: str | Path | None = None) -> Any:
    """What runs after the hand-made render for method ``m``: the refinement net (refine recipe), or
    a :class:`CropReenactor` for any other method (MissingWeightsError: its weights are absent);
    ``checkpoint``: a trained method's file instead of its selected one."""
    from petra import generators
    from petra.generators.mesh.refine.reenactor import engine_refiner

    refiner = engine_refiner(cfg, m.name, checkpoint)
    return refiner if refiner is not None else CropReenactor(generators.create(m, cfg, checkpoint=checkpoint),
                                                              int(cfg["align"]["size"]))


class CropReenactor:
    """Any registry method on aligned crops, the one place that aligns for it and sizes its output.

    The target and every driving frame become FFHQ-aligned crops of ``align.size`` (from the
    face mesh's points) before the method sees them; the first driving crop (and a re-captured
    one) is its reference. Inside the transfer (:meth:`__call__`, the engine's refiner hook) its
    output crop replaces the render, so paste-back, smoothing and held poses stay the engine's;
    :class:`petra.api.Animator` uses :meth:`align` and :meth:`drive` directly and returns crops.
    """

    keeps_warp = False  # its crop is not the engine's warp: paste-back adds no photo detail from the warp

    def __init__(self, reenactor: Any, size: int) -> None:
        self.reenactor, self.size, self._referenced = reenactor, size, False

    def align(self, img: Any, pts: Any) -> Any:
        """The FFHQ-aligned crop [size, size, 3] of ``img`` from its face-mesh points [478, 2+]."""
        from petra.data.ffhq import align_face
        from petra.geometry.canonical import DLIB68_FROM_MESH

        return align_face(img, pts[DLIB68_FROM_MESH, :2], self.size).image

    def start(self, target_crop: Any) -> None:
        """Give the method its target: an aligned crop, resized to ``size`` if it is not."""
        import cv2

        crop = target_crop if target_crop.shape[0] == self.size else cv2.resize(target_crop, (self.size, self.size),
                                                                                 interpolation=cv2.INTER_AREA)
        self.reenactor.set_target(crop)

    def drive(self, driving: Any, pts: Any, recapture: bool = False) -> Any:
        """The method's output crop for a driving frame and its face-mesh points; the first
        frame (or one with ``recapture``) becomes the reference."""
        drv = self.align(driving, pts)
        if recapture or not self._referenced:
            self.reenactor.set_reference(drv)
            self._referenced = True
        return self.reenactor.drive(drv)

    def __call__(self, target: Any, crop: Any, out_mesh: Any, driving: Any, pts: Any, reference: Any = None) -> Any:
        """The engine's refiner hook: the output crop at the size of the engine's ``crop`` (``reference``,
        the driver's reference view, is not used: the method keeps its own reference frame)."""
        import cv2

        out = self.drive(driving, pts)
        s = crop.shape[0]
        return out if out.shape[0] == s else cv2.resize(out, (s, s), interpolation=cv2.INTER_CUBIC)


def _say_choice(choice: Any, path: Path, option: str) -> None:
    """One line when a picture shows several faces: which one is used, how many were found."""
    if choice is not None and choice.count > 1:
        print(f"petra transfer: {choice.describe(str(path), option)}", file=sys.stderr)


def _check_video(driving: Path) -> Any:
    """Probe the driving video; frames too small for a face are refused here, not as "no face"."""
    info = probe(driving)
    w, h = info.size
    if min(w, h) < MIN_SIDE:
        raise InputError(driving, too_small(w, h))
    return info


def _pick(o: Any) -> Any:
    return o.full if o.full is not None else o.crop


def _run_image(tr: Any, driving: Path, out: Path) -> int:

    dimg = read_image(driving)
    img = _pick(tr.drive(dimg, path=str(driving)))
    _say_choice(tr.driving_choice, driving, "--driving-face-index")
    write_image(out, img)
    return 1


def _run_video(tr: Any, driving: Path, out: Path, info: Any, strict: bool) -> int:
    from tqdm import tqdm

    def warn(message: str) -> None:
        tqdm.write(f"petra transfer: warning: {message}", file=sys.stderr)

    n = 0
    writer: VideoWriter | None = None
    total = expected_frames(info)
    frames = iter_frames(driving, strict=strict, on_partial=warn)  # a partly undecodable clip is found here
    pts = tr.clip_landmarks(tqdm(frames, total=total, desc="landmarks", unit="frame", leave=False), str(driving))
    _say_choice(tr.driving_choice, driving, "--driving-face-index")
    if tr.mode == "relative" and tr.analyse(pts) is not None and tr.refiner is not None:
        # the refiner compares each frame with the neutral frame: decode it once more
        k = tr.neutral_index
        for i, (_, frame) in enumerate(iter_frames(driving, on_partial=None)):
            if i == k:
                tr.set_reference_view(frame, pts[k])
                break
    first = next(i for i, p in enumerate(pts) if p is not None)
    try:
        for i, (t, frame) in enumerate(tqdm(iter_frames(driving, on_partial=None), total=total, desc="transfer",
                                            unit="frame", leave=False)):
            if i >= len(pts):
                break
            # frames before the first face show the target as it is
            img = _pick(tr.still() if i < first else tr.drive_points(frame, pts[i], t))
            if writer is None:
                h, w = img.shape[:2]
                writer = VideoWriter(out, info.fps or 25.0, (w, h), audio_from=driving)
                writer.__enter__()
            writer.write(img)
            n += 1
    except BaseException as exc:
        if writer is not None:
            writer.__exit__(type(exc), exc, exc.__traceback__)
        raise
    if writer is not None:
        writer.__exit__(None, None, None)
    return n
