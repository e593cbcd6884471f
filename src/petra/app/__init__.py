"""The user-facing tools on top of the Python API (:mod:`petra.api`): ``petra app`` (the
Gradio web app: :mod:`.ui` wires the page to :mod:`.session`, which holds the work and is
tested without a browser; :mod:`.serve` is its command), ``petra live`` (:mod:`.live`, an
OpenCV window or a recording) and :mod:`.browser` (drives the page in Chromium for the
tests and the benchmark). Their subcommand modules live here, not in :mod:`petra.stages`,
because they sit above the API, which uses ``petra transfer``'s stage function."""
