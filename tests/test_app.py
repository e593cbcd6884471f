"""`petra app` without a browser: what the page does (petra.app.session) and the /transfer API."""
from __future__ import annotations

import numpy as np
import pytest

from petra.errors import PetraError


@pytest.fixture(scope="module")
def cfg():
    from petra import config

    return config.load()


@pytest.fixture(scope="module")
def target(sample_root):
    return sample_root / "images" / "EAMM_anne.jpg"


@pytest.fixture(scope="module")
def clip(sample_root):
    return sample_root / "videos" / "id0002" / "LivePortrait_d1.mp4"


@pytest.fixture()
def blank(tmp_path):
    import cv2

    p = tmp_path / "blank.png"
    cv2.imwrite(str(p), np.full((240, 240, 3), 128, np.uint8))
    return p


def test_transfer_file_gives_a_video_for_a_clip_and_an_image_for_a_photo(cfg, target, clip, sample_root, tmp_path):
    from petra.app.session import Options, transfer_file
    from petra.media import read_image
    from petra.video import probe

    vid = transfer_file(cfg, target, clip, Options.from_config(cfg, size=512, paste_back=False), tmp_path)
    assert vid.suffix == ".mp4" and probe(vid).size == (512, 512)
    img = transfer_file(cfg, target, sample_root / "images" / "SadTalker_happy.jpg", Options.from_config(cfg), tmp_path)
    assert img.suffix == ".png" and read_image(img).shape == read_image(target).shape


def test_the_page_starts_from_the_configs_mesh_values(cfg):
    """The app holds no defaults of its own: they are params.yaml's ``mesh`` section (or the user's)."""
    from petra.app.session import MODES, SIZES, SMOOTHING, Options
    from petra.config import deep_merge

    mesh = cfg["mesh"]
    o = Options.from_config(cfg)
    assert (o.method, o.mode, o.expression_scale, o.smoothing, o.size, o.paste_back) == (
        "mesh", mesh["mode"], mesh["expression_scale"], mesh["smoothing"]["method"], mesh["size"], mesh["paste_back"])
    mine = Options.from_config(deep_merge(cfg, {"mesh": {"size": 512, "expression_scale": 1.5,
                                                         "smoothing": {"method": "none"}}}), mode="absolute")
    assert (mine.size, mine.expression_scale, mine.smoothing, mine.mode) == (512, 1.5, "none", "absolute")
    assert (MODES, SMOOTHING, SIZES) == (("auto", "relative", "absolute"), ("one_euro", "none"), (256, 512))


def test_bad_inputs_are_one_line_errors(cfg, target, clip, blank, tmp_path):
    from petra.app.session import Options, transfer_file

    o = Options.from_config(cfg)
    cases = [((None, clip, o), "no portrait"), ((target, None, o), "no driving"),
             ((blank, clip, o), "blank.png: no face"), ((target, blank, o), "blank.png: no face"),
             ((target, clip, Options.from_config(cfg, mode="sideways")), "mode 'sideways'"),
             ((target, clip, Options.from_config(cfg, size=300)), "size 300")]
    for args, expected in cases:
        with pytest.raises(PetraError) as err:
            transfer_file(cfg, *args, out_dir=tmp_path)
        assert expected in str(err.value) and "\n" not in str(err.value)


def test_live_session_animates_frames_and_reports_fps(cfg, target, clip, blank):
    from petra.app.session import LiveSession, Options
    from petra.media import read_image
    from petra.video import iter_frames

    s = LiveSession(cfg, wait=10.0)  # a generous wait: every call gets the frame animated meanwhile
    o = Options.from_config(cfg)
    tgt = read_image(target)
    assert s.frame(None, target, o) is None  # no webcam frame yet
    frames = [f for _, f in iter_frames(clip)]
    outs = [s.frame(f, target, o) for f in frames]
    assert all(o is not None and o.shape == tgt.shape for o in outs)
    status = s.status()
    assert "fps" in status and "face found" in status and s.fps > 0
    assert float(np.abs(outs[-1].astype(int) - outs[0]).mean()) > 1.0  # it moves
    s.recapture()
    again = [s.frame(frames[-1], target, o) for _ in range(3)][-1]
    # the re-captured neutral brings the portrait back towards itself (framing is smoothed over 0.2 s)
    assert float(np.abs(again.astype(int) - tgt).mean()) < 0.6 * float(np.abs(outs[-1].astype(int) - tgt).mean())
    # a faceless portrait: a one-line status, no exception, nothing rendered
    assert s.frame(frames[0], blank, o) is None and s.status().startswith("⚠") and "blank.png" in s.status()
    s.close()


def test_method_choices_are_the_engine_and_trained_methods_with_a_checkpoint(cfg, tmp_path):
    import json

    from petra.app.session import methods

    local = {**cfg, "paths": {**cfg["paths"], "models": str(tmp_path)}}
    # the refined engine (mesh-ours-gen) ships its checkpoint in the package: always offered
    assert methods(local) == ["mesh", "mesh-ours-gen"]
    from petra.generators import trained_methods

    trained = [m for m in trained_methods(local) if m != "mesh-ours-gen"][:1]
    if trained:
        (tmp_path / "selected").mkdir()
        (tmp_path / "selected" / f"{trained[0]}.json").write_text(json.dumps({"checkpoint": "x.pt"}))
        assert methods(local) == ["mesh", trained[0], "mesh-ours-gen"] or \
            sorted(methods(local)) == sorted(["mesh", trained[0], "mesh-ours-gen"])


def test_the_transfer_endpoint_answers_gradio_client(cfg, target, clip, blank):
    pytest.importorskip("gradio")
    from gradio_client import Client, handle_file

    from petra.app.browser import free_port
    from petra.app.ui import build
    from petra.video import probe

    demo = build(cfg)
    port = free_port()
    demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        assert "/transfer" in client.view_api(print_info=False, return_format="dict")["named_endpoints"]
        out = client.predict(handle_file(str(target)), handle_file(str(clip)), api_name="/transfer")
        assert probe(out).duration > 0.3 and probe(out).size == (256, 256)
        with pytest.raises(Exception, match="blank.png: no face"):
            client.predict(handle_file(str(target)), handle_file(str(blank)), api_name="/transfer")
    finally:
        demo.close()
