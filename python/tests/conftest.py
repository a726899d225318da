"""Helpers shared by the package's tests: where the sample images are, and how a missing
optional dependency is handled (a notice and a skip, but a failure under CI=true, where
.ci/run installs everything)."""

import importlib
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TESTDATA = ROOT.parent / "shared" / "testdata" / "pdq"
BIN = os.environ.get("HASHSWEEP_BIN", str(ROOT / "target" / "debug" / "hashsweep"))
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def in_ci() -> bool:
    return os.environ.get("CI") == "true"


def missing(what: str):
    if in_ci():
        pytest.fail(f"CI=true but {what} is missing")
    pytest.skip(f"NOTICE: {what} not found; this test checked nothing")


def shared_images():
    if not TESTDATA.is_dir():
        missing("../shared/testdata")
    return sorted(p for p in TESTDATA.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def require(module: str):
    """Import an optional dependency of a test, or skip (fail in CI) without it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        missing(f"the Python package {module!r}")
