"""The analyze HTML report renders in a real browser (headless Chromium) and shows the chart."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from onnx2rs.tools.analyze import analyze
from onnx2rs.tools.report_html import render_html

ROOT = Path(__file__).resolve().parent.parent


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI: `make test` installs it with apt-get")
        pytest.skip("chromium not installed (make test installs it)")
    return found


def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    browser = chromium()
    analysis = analyze(ROOT / "examples" / "charcnn.onnx")
    page = tmp_path / "report.html"
    page.write_text(render_html(analysis))
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0"]
    dom = subprocess.run([browser, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count('class="tensor"') == len(analysis.steps)  # one box per tensor in the chart
    assert "Memory over time" in dom.stdout and 'id="summary"' in dom.stdout
    assert "Uncaught" not in dom.stderr and "CONSOLE" not in dom.stderr
    shot = tmp_path / "report.png"
    subprocess.run([browser, *flags, f"--screenshot={shot}", "--window-size=1000,900", page.as_uri()],
                   capture_output=True, timeout=120, check=True)
    png = shot.read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000  # a blank page compresses far smaller
