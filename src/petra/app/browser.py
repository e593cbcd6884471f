"""Drive ``petra app`` in a real browser: Debian's ``chromium`` + ``chromium-driver`` via selenium.

Shared by the browser tests (tests/test_app_browser.py) and benchmarks/app_live_fps.py,
so both exercise the page exactly as a person would: upload files, press the button,
open the live tab with Chromium's fake camera fed from a video converted to .y4m, and
read the fps the page shows. Nothing is downloaded: the browser and its driver come
from the system packages (selenium is told where they are).
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Iterator

from petra.video import ffmpeg_exe

BROWSERS = ("chromium", "chromium-browser")
FPS = re.compile(r"([0-9.]+) fps")


def missing() -> str | None:
    """Why a browser test cannot run here (None: it can)."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install selenium)"
    if not any(shutil.which(b) for b in BROWSERS):
        return "no chromium (apt-get install chromium chromium-driver)"
    if not shutil.which("chromedriver"):
        return "no chromedriver (apt-get install chromium-driver)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve(port: int | None = None, timeout: float = 120.0, log: Path | None = None) -> Iterator[str]:
    """Run ``python -m petra app`` on localhost; yield its URL once it answers; stop it after."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}/"
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 (closed below)
    proc = subprocess.Popen([sys.executable, "-m", "petra", "app", "--port", str(port)], stdout=out,
                            stderr=subprocess.STDOUT, env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"})
    try:
        t0 = time.monotonic()
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"petra app exited with {proc.returncode} (log: {log})")
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() - t0 > timeout:
                raise TimeoutError(f"petra app did not answer on {url} within {timeout:.0f} s")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log:
            out.close()  # type: ignore[union-attr]


def fake_camera(video: Path, out: Path, side: int = 480, fps: int = 30) -> Path:
    """A .y4m Chromium can play as its webcam (looped): ``video`` scaled to side x side."""
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(video), "-vf", f"scale={side}:{side},fps={fps}",
                    "-pix_fmt", "yuv420p", str(out)], check=True, timeout=120)
    return out


@contextlib.contextmanager
def chromium(camera: Path | None = None, window: tuple[int, int] = (1400, 1000)) -> Iterator[Any]:
    """Headless Chromium under selenium; ``camera``: a .y4m served as the webcam (permission granted)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = next(shutil.which(b) for b in BROWSERS if shutil.which(b))
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              f"--window-size={window[0]},{window[1]}", "--mute-audio"):
        opts.add_argument(a)
    if camera is not None:
        opts.add_argument("--use-fake-ui-for-media-stream")
        opts.add_argument("--use-fake-device-for-media-stream")
        opts.add_argument(f"--use-file-for-fake-video-capture={camera}")
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver: Any, cond: Any, timeout: float) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.25).until(cond)


def _css(driver: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def open_page(driver: Any, url: str, target: Path) -> None:
    """Load the page and upload the portrait."""
    driver.get(url)
    _wait(driver, lambda d: _css(d, "#target input[type=file]"), 60)
    _css(driver, "#target input[type=file]")[0].send_keys(str(target))
    _wait(driver, lambda d: _css(d, "#target img"), 30)


def tab(driver: Any, label: str) -> None:
    _wait(driver, lambda d: [b for b in _css(d, "button[role=tab]") if b.text.strip() == label], 30)[0].click()


def animate(driver: Any, driving: Path, image: bool = False, timeout: float = 180) -> str:
    """Upload the driver, press Animate; return the status line once the page shows a result or an error."""
    sel = "#driving-image" if image else "#driving-video"
    if image:
        tab(driver, "Driving image")
    _css(driver, f"{sel} input[type=file]")[0].send_keys(str(driving))
    _wait(driver, lambda d: _css(d, f"{sel} img" if image else f"{sel} video"), 60)
    before = status(driver)
    _css(driver, "#animate")[0].click()
    return _wait(driver, lambda d: (s := status(d)) != before and s, timeout)


def status(driver: Any) -> str:
    """The page's last result line (✓ file / ⚠ error); the progress text around it is left out."""
    lines = [ln for ln in _css(driver, "#status")[0].text.splitlines() if ln.startswith(("✓", "⚠"))]
    return lines[-1] if lines else ""


def result_url(driver: Any, image: bool = False) -> str:
    el = _css(driver, "#result-image img" if image else "#result-video video")[0]
    return el.get_attribute("src")


def download(url: str, dest: Path) -> Path:
    with urllib.request.urlopen(url, timeout=60) as r, open(dest, "wb") as fh:
        fh.write(r.read())
    return dest


def live_fps(driver: Any, seconds: float = 10.0, warmup: float = 3.0, timeout: float = 90) -> list[float]:
    """Open the live tab, start the (fake) webcam; the fps values the page shows over ``seconds``
    once a face is found (after ``warmup`` s)."""
    tab(driver, "Live webcam")
    _wait(driver, lambda d: _css(d, "#webcam div[title='grant webcam access'] button"), 30)[0].click()
    _wait(driver, lambda d: _css(d, "#webcam button.capture-button"), 30)[0].click()
    _wait(driver, lambda d: "face found" in _css(d, "#live-fps")[0].text, timeout)
    time.sleep(warmup)
    samples: list[float] = []
    t_end = time.monotonic() + seconds
    while time.monotonic() < t_end:
        m = FPS.search(_css(driver, "#live-fps")[0].text)
        if m:
            samples.append(float(m.group(1)))
        time.sleep(0.5)
    return samples


def live_status(driver: Any) -> str:
    return _css(driver, "#live-fps")[0].text


def live_frame(driver: Any) -> str | None:
    """URL of the animated frame the live tab shows now."""
    imgs = _css(driver, "#live-result img")
    return imgs[0].get_attribute("src") if imgs else None
