"""`petra transfer` on generated bad input: one line naming the file and the reason, exit 2,
no traceback, no input modified, no output or temporary left behind.

Every case is made here from the sample portraits and one sample clip (copied into a
fresh folder per case, so the sha256 of every file there is compared before and after).
The table in docs/reliability.md lists the same cases and outcomes.
"""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from reliability_helpers import encode, error_lines, noise_image, snapshot, temporaries, zero_front

from petra.cli import main as petra_main

IMG_T, IMG_D = "EAMM_anne.jpg", "SadTalker_happy.jpg"


@pytest.fixture(scope="module")
def media(tmp_path_factory, sample_root) -> Path:
    """Generated inputs shared by the cases (each case copies what it uses)."""
    d = tmp_path_factory.mktemp("media")
    clip = sample_root / "videos" / "id0070" / "LIA_obama.mp4"
    good = encode(clip, d / "clip.mp4", "scale=256:256", duration="2", extra=("-movflags", "+faststart"))
    zero_front(good, d / "damaged.mp4")
    encode(clip, d / "tiny.mp4", "scale=32:32", duration="0.5")
    ffmpeg_blank = d / "blank.mp4"
    from reliability_helpers import ffmpeg

    ffmpeg("-f", "lavfi", "-i", "color=c=gray:size=256x256:rate=25:duration=0.5", "-c:v", "libx264",
           "-pix_fmt", "yuv420p", str(ffmpeg_blank))
    (d / "truncated.mp4").write_bytes(good.read_bytes()[:4000])
    (d / "random.mp4").write_bytes(np.random.default_rng(1).integers(0, 256, 40_000, dtype=np.uint8).tobytes())
    for name in (IMG_T, IMG_D):
        shutil.copy(sample_root / "images" / name, d / name)
    noise_image(d / "wall.png")
    import cv2

    cv2.imwrite(str(d / "tiny.png"), cv2.resize(cv2.imread(str(d / IMG_T)), (32, 32)))
    from PIL import Image

    Image.new("RGB", (120, 120), (200, 10, 10)).save(d / "anim.gif")
    return d


def _case_dir(tmp_path: Path, media: Path, names: tuple[str, ...]) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    for n in names:
        shutil.copy(media / n, work / n)
        os.chmod(work / n, 0o644)
    return work


# name -> (files to copy, setup(work) -> argv after "transfer", the file the line must name, reason text)
Case = tuple[tuple[str, ...], Callable[[Path], list[str]], str, str]


def _args(t: str, d: str, o: str, *more: str) -> Callable[[Path], list[str]]:
    return lambda w: ["--target", str(w / t), "--driving", str(w / d), "--out", str(w / o), *more]


def _mkdir(rel: str, then: Callable[[Path], list[str]]) -> Callable[[Path], list[str]]:
    def setup(w: Path) -> list[str]:
        (w / rel).mkdir(parents=True)
        return then(w)
    return setup


def _file(rel: str, then: Callable[[Path], list[str]], data: bytes = b"", mode: int | None = None,
          ) -> Callable[[Path], list[str]]:
    def setup(w: Path) -> list[str]:
        (w / rel).write_bytes(data)
        if mode is not None:
            os.chmod(w / rel, mode)
        return then(w)
    return setup


def _link(rel: str, to: str, then: Callable[[Path], list[str]], hard: bool = False) -> Callable[[Path], list[str]]:
    def setup(w: Path) -> list[str]:
        (os.link if hard else os.symlink)(w / to, w / rel)
        return then(w)
    return setup


def _fifo(rel: str, then: Callable[[Path], list[str]]) -> Callable[[Path], list[str]]:
    def setup(w: Path) -> list[str]:
        os.mkfifo(w / rel)
        return then(w)
    return setup


def _alias(t: str, d: str, o: str) -> Callable[[Path], list[str]]:
    """--out spelled through ../ so it is not string-equal to the input."""
    def setup(w: Path) -> list[str]:
        (w / "sub").mkdir()
        return ["--target", str(w / t), "--driving", str(w / d), "--out", str(w / "sub" / ".." / o)]
    return setup


TI = (IMG_T, IMG_D)
CASES: dict[str, Case] = {
    "target missing": (TI, _args("nope.jpg", IMG_D, "o.png"), "nope.jpg", "file not found"),
    "driving missing": (TI, _args(IMG_T, "nope.mp4", "o.mp4"), "nope.mp4", "file not found"),
    "target is a folder": (TI, _mkdir("dir.jpg", _args("dir.jpg", IMG_D, "o.png")), "dir.jpg", "is a directory"),
    "driving is a folder": (TI, _mkdir("clips", _args(IMG_T, "clips", "o.mp4")), "clips", "is a directory"),
    "target empty file": (TI, _file("e.jpg", _args("e.jpg", IMG_D, "o.png")), "e.jpg", "empty file"),
    "target is text": (TI, _file("n.png", _args("n.png", IMG_D, "o.png"), b"not a picture\n" * 20), "n.png",
                       "not a readable image"),
    "target GIF (unsupported)": (TI + ("anim.gif",), _args("anim.gif", IMG_D, "o.png"), "anim.gif",
                                 "not a readable image"),
    "target broken symlink": (TI, _link("l.jpg", "gone.jpg", _args("l.jpg", IMG_D, "o.png")), "l.jpg",
                              "broken symbolic link"),
    "driving is a FIFO": (TI, _fifo("pipe.mp4", _args(IMG_T, "pipe.mp4", "o.mp4")), "pipe.mp4", "not a regular file"),
    "target 32x32": (TI + ("tiny.png",), _args("tiny.png", IMG_D, "o.png"), "tiny.png", "too small (32×32, need ≥ 64 px face)"),
    "target without a face": (TI + ("wall.png",), _args("wall.png", IMG_D, "o.png"), "wall.png", "no face"),
    "driving image without a face": (TI + ("wall.png",), _args(IMG_T, "wall.png", "o.png"), "wall.png", "no face"),
    "out = target": (TI, _args(IMG_T, IMG_D, IMG_T), IMG_T, "refusing to overwrite an input"),
    "out = driving image": (TI, _args(IMG_T, IMG_D, IMG_D), IMG_D, "refusing to overwrite an input"),
    "out = target via ../": (TI, _alias(IMG_T, IMG_D, IMG_T), IMG_T, "refusing to overwrite an input"),
    "out symlink to target": (TI, _link("o.jpg", IMG_T, _args(IMG_T, IMG_D, "o.jpg")), "o.jpg",
                              "refusing to overwrite an input"),
    "out hard link to target": (TI, _link("o.jpg", IMG_T, _args(IMG_T, IMG_D, "o.jpg"), hard=True), "o.jpg",
                                "refusing to overwrite an input"),
    "out = driving video": (TI + ("clip.mp4",), _args(IMG_T, "clip.mp4", "clip.mp4"), "clip.mp4",
                            "refusing to overwrite an input"),
    "out = read-only target": (TI, lambda w: (os.chmod(w / IMG_T, 0o444), _args(IMG_T, IMG_D, IMG_T)(w))[1],
                               IMG_T, "refusing to overwrite an input"),
    "out is a folder": (TI, _mkdir("o.png", _args(IMG_T, IMG_D, "o.png")), "o.png", "is a folder"),
    "out parent is a file": (TI, _file("f", _args(IMG_T, IMG_D, "f/o.png"), b"x"), "f/o.png", "is a file, not a folder"),
    "out read-only file": (TI, _file("o.png", _args(IMG_T, IMG_D, "o.png"), b"keep", 0o444), "o.png",
                           "read-only file"),
    "out is a FIFO": (TI, _fifo("o.png", _args(IMG_T, IMG_D, "o.png")), "o.png", "not a regular file"),
    "out broken symlink": (TI, _link("o.png", "nowhere/x.png", _args(IMG_T, IMG_D, "o.png")), "o.png",
                           "broken symbolic link"),
    "image driver, video out": (TI, _args(IMG_T, IMG_D, "o.mp4"), "o.mp4", "needs an image output"),
    "video driver, image out": (TI + ("clip.mp4",), _args(IMG_T, "clip.mp4", "o.png"), "o.png", "needs a video output"),
    "driving video 32x32": (TI + ("tiny.mp4",), _args(IMG_T, "tiny.mp4", "o.mp4"), "tiny.mp4",
                            "too small (32×32, need ≥ 64 px face)"),
    "driving video empty": (TI, _file("e.mp4", _args(IMG_T, "e.mp4", "o.mp4")), "e.mp4", "empty file"),
    "driving video random bytes": (TI + ("random.mp4",), _args(IMG_T, "random.mp4", "o.mp4"), "random.mp4",
                                   "not a readable video"),
    "driving video truncated": (TI + ("truncated.mp4",), _args(IMG_T, "truncated.mp4", "o.mp4"), "truncated.mp4",
                                "no decodable video frames (h264:"),
    "driving video without a face": (TI + ("blank.mp4",), _args(IMG_T, "blank.mp4", "o.mp4"), "blank.mp4",
                                     "no face found in the driving video"),
    "driving video partly undecodable, --strict": (TI + ("damaged.mp4",), _args(IMG_T, "damaged.mp4", "o.mp4", "--strict"),
                                                   "damaged.mp4", "partly undecodable: decoded"),
    "--face-index beyond the faces": (TI, _args(IMG_T, IMG_D, "o.png", "--face-index", "3"), IMG_T,
                                      "--face-index 3: only 1 face(s) found"),
    "--driving-face-index beyond the faces": (TI, _args(IMG_T, IMG_D, "o.png", "--driving-face-index", "1"), IMG_D,
                                              "--driving-face-index 1: only 1 face(s) found"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_transfer_input_is_one_line_exit_2_and_touches_nothing(name, media, tmp_path, capsys):
    files, setup, names, reason = CASES[name]
    work = _case_dir(tmp_path, media, files)
    argv = setup(work)
    before = snapshot(work)
    rc = petra_main(["transfer", *argv])
    err = capsys.readouterr().err
    lines = error_lines(err, "transfer")
    assert rc == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    assert names in lines[0] and reason in lines[0], lines[0]
    assert snapshot(work) == before  # nothing written, replaced or deleted
    assert not temporaries(work)


def test_out_in_a_folder_nobody_can_write_is_refused_before_any_work(media, tmp_path, capsys):
    work = _case_dir(tmp_path, media, TI)
    locked = work / "locked"
    locked.mkdir()
    if subprocess.run(["chattr", "+i", str(locked)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i (an immutable folder, unwritable even for root) is not available")
    try:
        rc = petra_main(["transfer", "--target", str(work / IMG_T), "--driving", str(work / IMG_D),
                         "--out", str(locked / "o.png")])
    finally:
        subprocess.run(["chattr", "-i", str(locked)], check=True)
    err = capsys.readouterr().err
    lines = error_lines(err, "transfer")
    assert rc == 2 and len(lines) == 1 and "Traceback" not in err
    assert "not writable" in lines[0] and "o.png" in lines[0]
    assert "frame(s)" not in err  # refused before the transfer ran
    assert not list(locked.iterdir())


def test_debug_shows_the_traceback(media, tmp_path):
    work = _case_dir(tmp_path, media, TI)
    res = subprocess.run(["petra", "transfer", "--debug", "--target", str(work / "nope.jpg"), "--driving",
                          str(work / IMG_D), "--out", str(work / "o.png")], capture_output=True, text=True, timeout=300)
    assert res.returncode != 0 and "Traceback" in res.stderr and "nope.jpg: file not found" in res.stderr


def test_partly_undecodable_driver_warns_with_frame_counts(media, tmp_path, capsys):
    work = _case_dir(tmp_path, media, (IMG_T, "damaged.mp4"))
    before = snapshot(work)
    rc = petra_main(["transfer", "--target", str(work / IMG_T), "--driving", str(work / "damaged.mp4"),
                     "--out", str(work / "o.mp4"), "--no-paste-back"])
    err = capsys.readouterr().err
    assert rc == 0, err
    warnings = [line for line in err.replace("\r", "\n").splitlines() if "petra transfer: warning" in line]
    assert len(warnings) == 1, err
    assert "damaged.mp4: partly undecodable: decoded" in warnings[0] and "of ~50 expected frames" in warnings[0]
    assert "h264" in warnings[0] and warnings[0].rstrip().endswith(")")  # ffmpeg's reason, whole
    assert {k: v for k, v in snapshot(work).items() if k != "o.mp4"} == before


def _two_faces(media: Path, work: Path) -> tuple[Path, tuple[slice, slice]]:
    """The target portrait small on the left, the driving one large on the right: (path, right half)."""
    import cv2

    a, b = cv2.imread(str(media / IMG_T)), cv2.imread(str(media / IMG_D))
    h = 512
    b = cv2.resize(b, (int(b.shape[1] * h / b.shape[0]), h))
    a = cv2.resize(a, (int(a.shape[1] * 0.5 * h / a.shape[0]), h // 2))
    left = np.full((h, a.shape[1] + 40, 3), 235, np.uint8)
    left[h // 4:h // 4 + a.shape[0], 20:20 + a.shape[1]] = a
    img = np.hstack([left, b])
    path = work / "two.png"
    cv2.imwrite(str(path), img)
    return path, (slice(None), slice(left.shape[1], None))


@pytest.mark.parametrize("index", [None, 0])
def test_several_faces_use_the_largest_or_the_chosen_one_and_say_so(media, tmp_path, capsys, index):
    from petra.media import read_image

    work = _case_dir(tmp_path, media, (IMG_D,))
    two, right = _two_faces(media, work)
    before = snapshot(work)
    more = [] if index is None else ["--face-index", str(index)]
    rc = petra_main(["transfer", "--target", str(two), "--driving", str(work / IMG_D), "--out", str(work / "o.png"),
                     *more])
    err = capsys.readouterr().err
    assert rc == 0, err
    said = [line for line in err.splitlines() if "faces found" in line]
    assert len(said) == 1, err
    if index is None:
        assert "2 faces found; using face 1 (the largest" in said[0]
    else:
        assert "2 faces found; using face 0 (chosen with --face-index" in said[0]
    diff = np.abs(read_image(work / "o.png").astype(int) - read_image(two)).sum(2) > 30
    changed_right = diff[right].sum() / max(diff.sum(), 1)
    assert changed_right > 0.9 if index is None else changed_right < 0.1  # the chosen face moved, the other did not
    assert {k: v for k, v in snapshot(work).items() if k != "o.png"} == before


def test_phone_photo_with_exif_orientation_is_used_upright(media, tmp_path, capsys):
    from PIL import Image

    from petra.media import read_image

    work = _case_dir(tmp_path, media, (IMG_D,))
    upright = Image.open(media / IMG_T).convert("RGB").crop((28, 0, 228, 256))  # a portrait, 200 x 256
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # as a phone stores a portrait shot sideways
    exif = stored.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    phone = work / "phone.jpg"
    stored.save(phone, exif=exif.tobytes(), quality=95)
    assert petra_main(["transfer", "--target", str(phone), "--driving", str(work / IMG_D), "--out",
                       str(work / "o.png")]) == 0, capsys.readouterr().err
    out = read_image(work / "o.png")
    assert out.shape[:2] == (upright.height, upright.width)  # as people see the photo, not as stored
    ref = np.asarray(upright).astype(int)
    assert np.abs(out.astype(int) - ref).mean() < 12  # the photo, upright, with its face re-posed


def test_exif_orientation_matches_pil_for_all_eight(tmp_path):
    from PIL import Image, ImageOps

    from petra.media import read_image

    rng = np.random.default_rng(0)
    base = np.kron(rng.integers(0, 255, (9, 14, 3)).astype(np.uint8), np.ones((10, 10, 1), np.uint8))
    for o in range(1, 9):
        for ext in ("jpg", "png"):
            im = Image.fromarray(base)
            exif = im.getexif()
            exif[0x0112] = o
            p = tmp_path / f"o{o}.{ext}"
            im.save(p, exif=exif.tobytes(), **({"quality": 98} if ext == "jpg" else {}))
            ref = np.asarray(ImageOps.exif_transpose(Image.open(p)).convert("RGB"))
            got = read_image(p)
            assert got.shape == ref.shape and np.abs(got.astype(int) - ref).max() <= 1, (o, ext)


def test_input_modes_survive(media, tmp_path, capsys):
    """A read-only input stays read-only and unchanged after a successful run."""
    work = _case_dir(tmp_path, media, TI)
    os.chmod(work / IMG_T, 0o444)
    before = snapshot(work)
    assert petra_main(["transfer", "--target", str(work / IMG_T), "--driving", str(work / IMG_D), "--out",
                       str(work / "o.png")]) == 0
    assert stat.S_IMODE((work / IMG_T).stat().st_mode) == 0o444
    assert {k: v for k, v in snapshot(work).items() if k != "o.png"} == before
