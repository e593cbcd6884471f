"""``petra app``: the web app (Gradio). :func:`petra.app.ui.build` makes the page;
:mod:`petra.app.session` holds what it does, testable without a browser."""
