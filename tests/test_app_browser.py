"""`petra app` in a real browser (Debian chromium + chromium-driver, selenium).

Skipped with the reason when chromium/chromedriver/selenium are absent; CI installs them
(.ci/run). Screenshots go to reports/figures/app_*.png (git-ignored: they show sample faces).
"""
from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np
import pytest

from petra.app import browser

pytestmark = pytest.mark.skipif(browser.missing() is not None, reason=str(browser.missing()))
FIGURES = Path(__file__).resolve().parents[1] / "reports" / "figures"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    log = tmp_path_factory.mktemp("app") / "app.log"
    with browser.serve(log=log) as url:
        yield url


@pytest.fixture(scope="module")
def target(sample_root):
    return sample_root / "images" / "EAMM_anne.jpg"


def _identity(rgb: np.ndarray):
    """dlib 68 landmarks and the dlib ResNet embedding of the face in ``rgb`` (NoFaceError if none)."""
    from petra.data.landmarks import Landmarker
    from petra.evaluate.identity import DlibResnet

    lm = Landmarker()(rgb)
    return DlibResnet()(rgb, lm)


def test_upload_animate_and_the_result_is_the_animated_target(app_url, target, sample_root, tmp_path):
    from petra.media import read_image
    from petra.video import iter_frames

    FIGURES.mkdir(parents=True, exist_ok=True)
    clip = sample_root / "videos" / "id0035" / "V-Express_RD_Radio10_0_clip_0.mp4"
    with browser.chromium() as page:
        browser.open_page(page, app_url, target)
        status = browser.animate(page, clip)
        assert status.startswith("✓"), status
        page.save_screenshot(str(FIGURES / "app_animate.png"))
        video = browser.download(browser.result_url(page), tmp_path / "result.mp4")
        # a bad input: one line in the page, naming the file
        blank = tmp_path / "blank.png"
        import cv2

        cv2.imwrite(str(blank), np.full((240, 240, 3), 128, np.uint8))
        status = browser.animate(page, blank, image=True)
        page.save_screenshot(str(FIGURES / "app_error.png"))
        assert status.startswith("⚠") and "blank.png: no face" in status and "\n" not in status, status
    frames = [f for _, f in iter_frames(video)]
    n_src = sum(1 for _ in iter_frames(clip))
    assert abs(len(frames) - n_src) <= 1
    t_emb = _identity(read_image(target))
    dists = [float(np.linalg.norm(_identity(f) - t_emb)) for f in frames[::6]]  # NoFaceError fails the test
    print(f"dlib identity distance result-target: mean {np.mean(dists):.3f} max {max(dists):.3f}")
    assert max(dists) < 0.5
    motion = [float(np.abs(f.astype(int) - frames[0]).mean()) for f in frames]
    assert max(motion) > 2.0  # animated, not a still copy


def test_live_tab_streams_the_fake_webcam_and_shows_the_fps(app_url, target, sample_root, tmp_path):
    cam = browser.fake_camera(sample_root / "videos" / "id0035" / "V-Express_RD_Radio10_0_clip_0.mp4",
                              tmp_path / "cam.y4m")
    with browser.chromium(camera=cam) as page:
        browser.open_page(page, app_url, target)
        samples = browser.live_fps(page, seconds=8.0)
        srcs = {browser.live_frame(page)}
        for _ in range(6):
            srcs.add(browser.live_frame(page))
        page.save_screenshot(str(FIGURES / "app_live.png"))
        status = browser.live_status(page)
    fps = statistics.median(samples)
    print(f"live tab: median {fps:.1f} fps over {len(samples)} readings; {status}")
    assert "face found" in status and "256 px" in status
    assert fps > 2.0  # it streams (the >= 15 fps goal is measured by benchmarks/app_live_fps.py)
    assert len(srcs - {None}) >= 2  # the animated frame keeps changing
