"""The perdure binary the suite's own tests run: PERDURE_BIN, else the debug build (CI builds
one profile), else the release build; None when there is none (the tests say so and skip)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def perdure_binary() -> Path | None:
    for candidate in (
        os.environ.get("PERDURE_BIN"),
        REPO / "target" / "debug" / "perdure",
        REPO / "target" / "release" / "perdure",
    ):
        if candidate and Path(candidate).exists():
            return Path(candidate)
    return None
