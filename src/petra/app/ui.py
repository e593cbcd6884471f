"""The Gradio page of ``petra app``: wiring only (the work is in :mod:`petra.app.session`).

Tabs: *Animate* (a portrait driven by an uploaded or webcam-recorded video, or an
image; driver and result side by side; download) and *Live webcam* (the browser's
webcam streamed through the engine, with the measured fps). The API endpoint
``/transfer`` takes (target image, driving video or image, [method, mode, expression
scale, smoothing, size]) and returns the output file, for ``gradio_client``.
"""

from typing import Any, Mapping

from petra.errors import PetraError

from .session import MODES, SIZES, SMOOTHING, Options, Sessions, methods, page_error, transfer_file

TITLE = "petra — animate a portrait"
INTRO = ("Upload a portrait, then drive it with a video (upload or record with the webcam), a photo, "
         "or live from your webcam. Pose, expression and gaze move; the identity stays. Runs on the CPU.")
LIVE_STREAM_EVERY = 0.03  # s between webcam frames sent to the server (the engine sets the real rate)


def build(cfg: Mapping[str, Any]) -> Any:
    """The gr.Blocks of the app for the resolved config ``cfg``."""
    import gradio as gr

    sessions = Sessions(cfg)
    d = Options.from_config(cfg)  # the page starts from the config's values

    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(f"## {TITLE}\n{INTRO}")
        with gr.Row():
            with gr.Column(scale=1, min_width=220):
                target = gr.Image(type="filepath", label="Portrait", sources=["upload", "webcam", "clipboard"],
                                  elem_id="target", height=300)
                with gr.Accordion("Options", open=True):
                    method = gr.Dropdown(methods(cfg), value=d.method, label="Method", elem_id="method")
                    mode = gr.Radio(list(MODES), value=d.mode, label="Mode",
                                    info="relative: motion from the driver's neutral face; absolute: its expression")
                    scale = gr.Slider(0.0, 2.0, value=d.expression_scale, step=0.05, label="Expression scale")
                    smoothing = gr.Radio(list(SMOOTHING), value=d.smoothing, label="Smoothing")
                    size = gr.Radio([str(s) for s in SIZES], value=str(d.size), label="Output size (px)")
                    paste = gr.Checkbox(value=d.paste_back, label="Paste back into the full photo")
            with gr.Column(scale=3):
                with gr.Tabs():
                    with gr.Tab("Animate", id="animate"):
                        kind = gr.State("video")
                        with gr.Row(equal_height=True):
                            with gr.Column():
                                with gr.Tabs():
                                    with gr.Tab("Driving video") as tab_video:
                                        d_video = gr.Video(sources=["upload", "webcam"], label="Driving video",
                                                           elem_id="driving-video", height=320)
                                    with gr.Tab("Driving image") as tab_image:
                                        d_image = gr.Image(type="filepath", label="Driving image",
                                                           sources=["upload", "webcam", "clipboard"],
                                                           elem_id="driving-image", height=320)
                            with gr.Column():
                                r_video = gr.Video(label="Result", elem_id="result-video", height=320,
                                                   interactive=False)
                                r_image = gr.Image(label="Result", elem_id="result-image", visible=False,
                                                   interactive=False, height=320)
                        run = gr.Button("Animate", variant="primary", elem_id="animate")
                        status = gr.Markdown("", elem_id="status")
                        download = gr.File(label="Download", elem_id="download", interactive=False)
                    with gr.Tab("Live webcam", id="live"):
                        with gr.Row(equal_height=True):
                            cam = gr.Image(sources=["webcam"], streaming=True, type="numpy", label="Webcam",
                                           elem_id="webcam", height=320)
                            live_out = gr.Image(label="Animated", elem_id="live-result", format="jpeg",
                                                interactive=False, height=320)
                        with gr.Row():
                            fps = gr.Markdown("upload a portrait, then start the webcam", elem_id="live-fps")
                            neutral = gr.Button("Re-capture neutral face", elem_id="recapture", size="sm")
        # the API endpoint: hidden file inputs, so a client sends (target, driving) first
        with gr.Row(visible=False):
            api_target, api_driving, api_out = gr.File(), gr.File(), gr.File()
            api_button = gr.Button()

        def options(m: str, md: str, sc: float | None, sm: str, sz: str | int | None, pb: bool | None = None) -> Options:
            """The page's values; an empty one (an API call leaving it out) is the config's."""
            return Options(m or d.method, md or d.mode, d.expression_scale if sc is None else float(sc),
                           sm or d.smoothing, int(sz or d.size), d.paste_back if pb is None else bool(pb))

        def animate(t: str | None, k: str, dv: str | None, di: str | None, m: str, md: str, sc: float, sm: str,
                    sz: str, pb: bool, progress: Any = gr.Progress(track_tqdm=True)) -> tuple[Any, ...]:
            driving = dv if k == "video" else di
            try:
                out = transfer_file(cfg, t, driving, options(m, md, sc, sm, sz, pb))
            except PetraError as err:
                return (gr.update(value=None), gr.update(value=None), f"⚠ {page_error(err)}", None)
            video = out.suffix == ".mp4"
            return (gr.update(value=str(out) if video else None, visible=video),
                    gr.update(value=str(out) if not video else None, visible=not video),
                    f"✓ {out.name}", str(out))

        def api_transfer(t: str | None, dr: str | None, m: str = d.method, md: str = d.mode, sc: float = d.expression_scale,
                         sm: str = d.smoothing, sz: int = d.size) -> str:
            try:
                return str(transfer_file(cfg, t, dr, options(m, md, sc, sm, sz)))
            except PetraError as err:
                raise gr.Error(page_error(err)) from None

        def live(frame: Any, t: str | None, m: str, md: str, sc: float, sm: str, sz: str, pb: bool,
                 request: gr.Request) -> tuple[Any, str]:
            s = sessions.get(request.session_hash or "local")
            out = s.frame(frame, t, options(m, md, sc, sm, sz, pb))
            return (out if out is not None else gr.skip()), s.status()

        def recapture(request: gr.Request) -> None:
            sessions.get(request.session_hash or "local").recapture()

        tab_video.select(lambda: "video", None, kind, api_visibility="private")
        tab_image.select(lambda: "image", None, kind, api_visibility="private")
        run.click(animate, [target, kind, d_video, d_image, method, mode, scale, smoothing, size, paste],
                  [r_video, r_image, status, download], api_visibility="private")
        api_button.click(api_transfer, [api_target, api_driving, method, mode, scale, smoothing, size], api_out,
                         api_name="transfer")
        cam.stream(live, [cam, target, method, mode, scale, smoothing, size, paste], [live_out, fps],
                   stream_every=LIVE_STREAM_EVERY, concurrency_limit=2, api_visibility="private",
                   show_progress="hidden")
        neutral.click(recapture, None, None, api_visibility="private")
    return demo
