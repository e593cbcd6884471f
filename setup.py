"""Build hook only (the project is described in pyproject.toml).

The repo's params.yaml and workflow/schemas/params.schema.yaml are the one source of
petra's defaults; a built wheel carries copies in ``petra/defaults/`` so an installed
petra runs outside a checkout (petra.config reads them there). Editable installs read
the repo files themselves, so nothing is copied for them.
"""
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SHIPPED = {"params.yaml": "params.yaml", "workflow/schemas/params.schema.yaml": "params.schema.yaml"}


class BuildPyWithDefaults(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        dest = Path(self.build_lib) / "petra" / "defaults"
        dest.mkdir(parents=True, exist_ok=True)
        for src, name in SHIPPED.items():
            self.copy_file(src, str(dest / name))


setup(cmdclass={"build_py": BuildPyWithDefaults})
