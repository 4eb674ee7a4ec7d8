"""Open report.html in headless Chromium: the figures render (non-zero natural size) and a
script planted in a model output is shown as text, never executed.

The product page carries no script and a CSP that forbids one; the probe below is injected
into a test copy whose CSP is removed, so the check proves the escaping, not the CSP."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from html import unescape
from pathlib import Path

import pytest

from specwise.report import render
from specwise.results import StudyData

PROBE = """<script>
window.addEventListener("load", () => {
  const imgs = [...document.images].map(i => [i.naturalWidth, i.naturalHeight]);
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = "PROBE" + JSON.stringify({imgs, pwned: window.__pwned === 1,
    title: document.title, planted: document.body.innerText.includes('<script>document.title=')})
    + "PROBE";
  document.body.appendChild(out);
});
</script>"""
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--virtual-time-budget=10000",
]


def find_chromium() -> str:
    """Chromium's path; installs Debian's package when missing (the set-up does not: the demo
    needs no browser), and skips, saying so, only when that is impossible."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)  # type: ignore[return-value]
    if shutil.which("apt-get") and os.geteuid() == 0:
        env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
        for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
            subprocess.run(cmd, env=env, capture_output=True, timeout=900, check=False)
        if shutil.which("chromium"):
            return shutil.which("chromium")  # type: ignore[return-value]
    pytest.skip("chromium is not installed and cannot be (no apt-get, or not root): "
                "run `apt-get install chromium` to enable this test")  # fmt: skip


def chromium(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [browser, *FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)


def test_report_renders_in_chromium(study: StudyData, tmp_path: Path):
    browser = find_chromium()
    written = render(study, tmp_path / "report")
    page = written.html.read_text()
    probe_copy = tmp_path / "probe.html"
    probe_copy.write_text(
        re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page).replace(
            "</body>", PROBE + "</body>"
        )
    )
    done = chromium(browser, tmp_path / "profile1", "--dump-dom", probe_copy.as_uri())
    found = re.search(r'<pre id="probe">PROBE(.*?)PROBE</pre>', done.stdout, re.S)
    assert found, f"the probe did not run: {done.stderr[-2000:]}"
    probe = json.loads(unescape(found.group(1)))
    assert len(probe["imgs"]) == 8
    assert all(w > 100 and h > 100 for w, h in probe["imgs"]), probe["imgs"]
    assert probe["pwned"] is False and probe["title"] == "specwise study: paper-like"
    assert probe["planted"] is True  # the planted script is visible text

    # the product page itself (CSP on): the planted script is a text node in the live DOM
    dom = chromium(browser, tmp_path / "profile2", "--dump-dom", written.html.as_uri()).stdout
    assert "&lt;script&gt;document.title=" in dom and "PWNED</title>" not in dom
    shot = tmp_path / "report.png"
    chromium(browser, tmp_path / "profile3", f"--screenshot={shot}", "--window-size=1280,2400",
             "--hide-scrollbars", written.html.as_uri())  # fmt: skip
    assert shot.exists() and shot.stat().st_size > 50_000
    if os.environ.get("SPECWISE_KEEP_SCREENSHOT"):
        shutil.copy(shot, os.environ["SPECWISE_KEEP_SCREENSHOT"])
