"""The Python examples of docs/python.md run as written: each `python` block (but HMA's
configuration module, which needs an HMA deployment) is executed from a copy of the
repository layout, with the docs at hand and ../shared beside it."""

import contextlib
import io
import os
import re

from conftest import ROOT, TESTDATA, missing, require

PAGE = ROOT / "docs" / "python.md"


def python_blocks():
    text = PAGE.read_text()
    blocks = re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)
    return [b for b in blocks if not b.lstrip().startswith("# omm_config.py")]


def test_the_page_has_examples():
    assert len(python_blocks()) >= 2


def test_each_python_example_of_the_docs_runs(tmp_path):
    if not TESTDATA.is_dir():
        missing("../shared/testdata")
    main = tmp_path / "main"
    main.mkdir()
    (main / "docs").symlink_to(ROOT / "docs")
    (tmp_path / "shared").symlink_to(TESTDATA.parent.parent)
    for n, block in enumerate(python_blocks()):
        if "hashsweep.threatexchange" in block:
            require("threatexchange")
        printed = io.StringIO()
        before = os.getcwd()
        os.chdir(main)
        try:
            with contextlib.redirect_stdout(printed):
                code = compile(block, f"{PAGE}: python block {n}", "exec")
                exec(code, {"__name__": "docs"})
        finally:
            os.chdir(before)
        assert printed.getvalue().strip(), f"python block {n} printed nothing"
