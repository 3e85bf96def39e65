"""The HTML report in a real headless Chromium (via Playwright + CDP), and the report as PDF.

The browser is Debian's ``chromium`` (``.ci/run`` installs it when missing); Playwright only drives
it, so no browser download is needed. The events are read from the Chrome DevTools Protocol itself,
so "no console errors, no network requests" means what Chromium saw, not what Playwright chose to report.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import cli

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
#: The quick run of the demo: one horizon, three evaluation months, no ablation (~10-15 s).
OVERRIDES = [
    "target.intensity=[]",
    "model.set=fast",
    "backtest.eval_months=3",
    "backtest.horizons=[1]",
    "backtest.ablation=false",
]
QUICK = [arg for item in OVERRIDES for arg in ("--set", item)]
HOSTILE = "<script>window.__pwned=1</script>"


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("browser") / "out"
    r = cli("demo", "--out", str(out), *QUICK)
    assert r.returncode == 0, r.stderr
    assert (out / "report.html").is_file()
    return out


@pytest.fixture(scope="module")
def browser():
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("no chromium binary on PATH (Debian package `chromium`; .ci/run installs it when it can)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (dev extra) is not installed")
    with sync_api.sync_playwright() as p:
        # --no-sandbox: CI and this machine run as root, where Chromium's sandbox refuses to start
        b = p.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield b
        b.close()


def open_page(browser, html_path: Path, screenshot: Path | None = None, probe: str | None = None) -> dict:
    """Load ``html_path`` and return what the DevTools protocol saw: errors, requests, title, state."""
    page = browser.new_page()
    seen: dict[str, list] = {"console_errors": [], "exceptions": [], "log_errors": [], "requests": []}
    cdp = page.context.new_cdp_session(page)
    cdp.on(
        "Runtime.consoleAPICalled", lambda e: e.get("type") == "error" and seen["console_errors"].append(e)
    )
    cdp.on("Runtime.exceptionThrown", lambda e: seen["exceptions"].append(e["exceptionDetails"]))
    cdp.on(
        "Log.entryAdded",
        lambda e: e["entry"].get("level") == "error" and seen["log_errors"].append(e["entry"]),
    )
    cdp.on("Network.requestWillBeSent", lambda e: seen["requests"].append(e["request"]["url"]))
    for domain in ("Runtime", "Log", "Network", "Page"):
        cdp.send(f"{domain}.enable")
    try:
        page.goto(html_path.resolve().as_uri(), wait_until="load", timeout=30_000)
        page.wait_for_timeout(300)  # late scripts / lazy images would fire their events now
        seen["ready"] = page.evaluate("document.readyState")
        seen["title"] = page.title()
        seen["text"] = page.evaluate("document.body.innerText")
        if probe is not None:
            seen["probe"] = page.evaluate(probe)
        if screenshot is not None:
            import base64

            shot = cdp.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
            screenshot.write_bytes(base64.b64decode(shot["data"]))
    finally:
        cdp.detach()
        page.close()
    return seen


def offline(urls: list[str]) -> list[str]:
    """The requests that went anywhere but the local page or inline data."""
    return [u for u in urls if not u.startswith(("file://", "data:"))]


def test_report_loads_in_chromium_without_errors_or_network(browser, report_dir, tmp_path):
    shot = tmp_path / "report.png"
    seen = open_page(browser, report_dir / "report.html", screenshot=shot)
    assert seen["ready"] == "complete"
    assert "riskcast" in seen["title"].lower()
    assert seen["console_errors"] == [] and seen["exceptions"] == [] and seen["log_errors"] == [], seen
    assert seen["requests"] and offline(seen["requests"]) == [], seen["requests"]
    assert shot.read_bytes().startswith(PNG_MAGIC) and shot.stat().st_size > 10_000


def test_the_probes_do_catch_errors_and_requests(browser, tmp_path):
    """Negative control: the checks above are not vacuous."""
    page = tmp_path / "bad.html"
    page.write_text(
        "<html><head><title>bad</title></head><body>"
        "<img src='http://127.0.0.1:9/x.png'><script>console.error('boom'); undefined_fn();</script>"
        "</body></html>"
    )
    seen = open_page(browser, page)
    assert seen["console_errors"] and seen["exceptions"]
    assert offline(seen["requests"]) == ["http://127.0.0.1:9/x.png"]


def test_hostile_unit_name_is_shown_not_run(browser, report_dir, tmp_path):
    from riskcast.config import default_config
    from riskcast.reporting.report import render_report
    from riskcast.reporting.settings import ReportSettings

    out = tmp_path / "hostile"
    shutil.copytree(report_dir, out)
    scores = pd.read_csv(out / "scores.csv")
    scores["unit_name"] = HOSTILE
    scores.to_csv(out / "scores.csv", index=False)
    cfg = default_config(overrides=OVERRIDES)  # the config of the quick run: same horizons
    (out / "report.html").write_text(render_report(ReportSettings.from_config(cfg), out), encoding="utf-8")

    seen = open_page(browser, out / "report.html", probe="typeof window.__pwned")
    assert seen["probe"] == "undefined"
    assert HOSTILE in seen["text"]
    assert seen["exceptions"] == [] and offline(seen["requests"]) == []


def test_report_renders_to_pdf_and_png(report_dir, tmp_path):
    pytest.importorskip("weasyprint")
    from riskcast.reporting.pdf import pdf_to_png, render_pdf

    html = (report_dir / "report.html").read_text(encoding="utf-8")
    pdf = render_pdf(html, tmp_path / "report.pdf", base_url=report_dir.resolve().as_uri() + "/")
    assert pdf.read_bytes().startswith(b"%PDF")
    png = pdf_to_png(pdf, tmp_path / "report.png")
    assert png.read_bytes().startswith(PNG_MAGIC)
    with pytest.raises(IndexError):
        pdf_to_png(pdf, tmp_path / "nope.png", page=10_000)
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporaries


def test_pdf_rendering_refuses_the_network(tmp_path, caplog):
    pytest.importorskip("weasyprint")
    from riskcast.reporting.pdf import offline_url_fetcher, render_pdf

    fetcher = offline_url_fetcher()
    with pytest.raises(ValueError, match="offline"):
        fetcher("https://example.com/a.css")
    html = (
        "<html><body><p>x</p><img src='http://127.0.0.1:9/x.png'>"
        "<img src='data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=='>"
        "</body></html>"
    )
    with caplog.at_level("ERROR", logger="weasyprint"):
        pdf = render_pdf(html, tmp_path / "x.pdf")
    assert pdf.read_bytes().startswith(b"%PDF")
    assert any("refusing to fetch 'http://127.0.0.1:9/x.png'" in r.getMessage() for r in caplog.records)
    assert not any("data:" in r.getMessage() for r in caplog.records)
