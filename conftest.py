"""One embedded AWS for the whole test session; a wiped, seeded one for each notebook.

nbval runs notebook cells as pytest items, but fixtures do not run for them, so the server starts
in ``pytest_configure`` and a registered plugin object resets and seeds it before the first cell
of each notebook. This file sits at the top so that ``pytest notebooks/01_...ipynb`` loads it too.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import meshkit as mk
from meshkit.sandbox import EmbeddedServer
from meshkit.workbook import NOTEBOOK_SEED

SANITIZE = Path(__file__).resolve().parent / "notebooks" / "nbval_sanitize.cfg"


class FreshMeshPerNotebook:
    """Before the first cell of each notebook: wipe the embedded AWS and seed moto's random ids."""

    def __init__(self, server: EmbeddedServer) -> None:
        self.server = server
        self.notebook: Path | None = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        path = item.path
        if path.suffix == ".ipynb" and path != self.notebook:
            self.notebook = path
            self.server.reset(seed=NOTEBOOK_SEED)


def pytest_configure(config: pytest.Config) -> None:
    server = EmbeddedServer()
    config._meshkit_server = server  # type: ignore[attr-defined]
    # start() sees a moto server on loopback and exports the embedded environment before any
    # kernel starts: notebook kernels inherit it and share this server, as under `make lab`. An
    # EmbeddedServer of this process is meshkit's own, so that environment also names it in
    # SERVER_MARKER_VARIABLE (replacing a marker inherited from a `meshkit lab` terminal), and
    # mk.sandbox.reset() may wipe it here and in the kernels, and no other server.
    os.environ.pop(
        "MESHKIT_TARGET", None
    )  # the tests never go to real AWS, whatever the shell says
    os.environ["AWS_ENDPOINT_URL"] = server.url
    mk.sandbox.start(quiet=True)
    config.pluginmanager.register(FreshMeshPerNotebook(server), "meshkit-fresh-mesh")
    if getattr(config.option, "nbval_sanitize_with", None) is None:
        config.option.nbval_sanitize_with = str(SANITIZE)  # absolute: kernels run elsewhere


def pytest_unconfigure(config: pytest.Config) -> None:
    server = getattr(config, "_meshkit_server", None)
    if server is not None:
        server.stop()
