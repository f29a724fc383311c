"""report.html in a real browser: Debian's headless chromium renders it with every network
lookup blocked, takes a screenshot, and dumps the DOM it built, where the charts must be.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, ROOT

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install -y chromium)"
)
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # a page that needed the network would show it
]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    import json

    out = tmp_path_factory.mktemp("report")
    run = subprocess.run(
        [sys.executable, "-m", "services.cli.main", "screen", str(EXAMPLES / "roster.csv"), "--local",
         "--out", str(out / "results.csv"), "--summary", str(out / "summary.json"),
         "--report", str(out / "report.html"), "--team-label", "XC <Varsity> & track"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    return out / "report.html", json.loads((out / "summary.json").read_text())


def chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=90,
    )


def png_pixels(path: Path) -> tuple[int, int, bytes]:
    """Width, height and the inflated scanlines of a PNG (enough to tell a blank page)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    idat, pos = b"", 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return width, height, zlib.decompress(idat)


def test_the_report_is_self_contained(report: tuple[Path, dict[str, object]]) -> None:
    html = report[0].read_text()
    assert not re.search(r"(src|href)\s*=", html, re.I)
    assert "http://" not in html and "https://" not in html and "<script" not in html.lower()
    assert "XC &lt;Varsity&gt; &amp; track" in html  # roster text is escaped, never markup


def test_chromium_renders_the_charts_and_tables(report: tuple[Path, dict[str, object]], tmp_path: Path) -> None:
    path, summary = report
    dumped = chromium(["--dump-dom", path.as_uri()], tmp_path / "dom-profile")
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = dumped.stdout
    triage_svg = re.search(r'<svg id="chart-triage".*?</svg>', dom, re.S)
    causes_svg = re.search(r'<svg id="chart-causes".*?</svg>', dom, re.S)
    assert triage_svg and causes_svg, "both charts are in the rendered DOM"
    bars = dict(re.findall(r'data-level="(\w+)" data-count="(\d+)"', triage_svg.group(0)))
    assert {k: int(v) for k, v in bars.items()} == summary["by_triage"]
    causes = re.findall(r'data-condition="(\w+)" data-count="(\d+)"', causes_svg.group(0))
    top = summary["top_conditions"]
    assert isinstance(top, list)
    assert causes[0] == (top[0]["condition"], str(top[0]["count"]))
    first_follow_up = re.search(r'<table id="follow-up">.*?<tbody><tr><td>(\d+)</td><td>([^<]+)</td>', dom, re.S)
    assert first_follow_up and first_follow_up.group(2) == "XC-10"  # the emergency leads
    assert "decision support" in dom.lower()
    assert re.search(r'<table id="rejected">.*?XC-13.*?present\[0\]', dom, re.S)

    shot = tmp_path / "report.png"
    taken = chromium([f"--screenshot={shot}", "--window-size=1200,1600", path.as_uri()], tmp_path / "png-profile")
    assert taken.returncode == 0 and shot.exists(), taken.stderr[-2000:]
    width, height, pixels = png_pixels(shot)
    assert (width, height) == (1200, 1600)
    assert len(set(pixels)) > 50, "the screenshot is blank"
