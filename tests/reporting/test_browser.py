"""The HTML report in a real headless Chromium (via Playwright + CDP), and the report as PDF.

The browser is Debian's ``chromium`` (``.ci/run`` installs it when missing); Playwright only drives
it, so no browser download is needed. The events are read from the Chrome DevTools Protocol itself,
so "no console errors, no network requests" means what Chromium saw, not what Playwright chose to report.

The PDF is read back as text (pypdfium2) and as layout (WeasyPrint's boxes): every column header
and model name of every table, the target month and the trust line must be in it, nothing
clipped, and no heading left alone at the bottom of a page.
"""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import cli

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
#: The quick run of the demo: one horizon, three evaluation months, no ablation (~10-15 s); the
#: intensity targets stay, since their columns make the report's widest tables.
OVERRIDES = [
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


def open_page(
    browser, html_path: Path, screenshot: Path | None = None, probe: str | None = None, width: int = 1280
) -> dict:
    """Load ``html_path`` in a ``width`` px wide window and return what the DevTools protocol saw:
    errors, requests, title, state."""
    page = browser.new_page(viewport={"width": width, "height": 900})
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


#: Every element whose right edge passes the window's (a table wider than the page scrolls sideways).
TOO_WIDE = """() => {
  const w = document.documentElement.clientWidth;
  const wide = [...document.body.querySelectorAll('*')].filter(e => e.getBoundingClientRect().right > w + 0.5);
  return {scroll: document.documentElement.scrollWidth - w, wide: wide.map(e => e.tagName + ': ' + (e.innerText || '').slice(0, 80))};
}"""


def test_nothing_is_wider_than_a_1200px_window(browser, report_dir):
    seen = open_page(browser, report_dir / "report.html", probe=TOO_WIDE, width=1200)
    assert seen["probe"] == {"scroll": 0, "wide": []}, seen["probe"]
    assert seen["console_errors"] == [] and seen["exceptions"] == [] and offline(seen["requests"]) == []


class _Cells(HTMLParser):
    """The text of every ``<th>`` of the report, and of the element with ``id="trust"``."""

    def __init__(self) -> None:
        super().__init__()
        self.headers: list[str] = []
        self.trust = ""
        self._open: list[list] = []

    def handle_starttag(self, tag, attrs):
        if tag == "th" or dict(attrs).get("id") == "trust":
            self._open.append([tag, "", dict(attrs).get("id") == "trust"])

    def handle_endtag(self, tag):
        if self._open and self._open[-1][0] == tag:
            _, text, trust = self._open.pop()
            if trust:
                self.trust = text
            else:
                self.headers.append(text)

    def handle_data(self, data):
        for item in self._open:
            item[1] += data


def flat(text: str) -> str:
    """Text without whitespace, pdfium's mark of a line broken at a hyphen read as the hyphen."""
    return re.sub(r"\s+", "", text.replace("\ufffe", "-"))


def pdf_text(pdf: Path) -> str:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(str(pdf))
    try:
        return "\n".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    finally:
        doc.close()


def test_pdf_holds_every_header_model_the_target_month_and_the_trust_line(report_dir):
    pytest.importorskip("pypdfium2")
    pdf = report_dir / "report.pdf"
    assert pdf.is_file()  # the run writes it (report.pdf = true by default)
    text = flat(pdf_text(pdf))
    cells = _Cells()
    cells.feed((report_dir / "report.html").read_text(encoding="utf-8"))
    assert len(cells.headers) > 60  # every table's header row and group rows
    missing = [h for h in cells.headers if flat(h) not in text]
    assert missing == [], missing
    models = set(pd.read_csv(report_dir / "metrics.csv")["model"])
    models |= set(pd.read_csv(report_dir / "intensity_metrics.csv")["model"])
    assert {"logistic", "logistic_history", "persistence", "climatology"} <= models
    assert [m for m in sorted(models) if flat(m) not in text] == []
    scores = pd.read_csv(report_dir / "scores.csv")
    target = pd.Period(str(scores["target_month"].iloc[0]), "M").strftime("%B %Y")
    as_of = pd.Period(str(scores["as_of"].iloc[0]), "M").strftime("%B %Y")
    assert flat(f"forecast for {target}") in text and flat(f"made with data through {as_of}") in text
    assert cells.trust.startswith("Trust (backtest") and "Brier skill over climatology" in cells.trust
    assert "had been forecast at P" in cells.trust and "95 % interval" in cells.trust
    assert flat(cells.trust) in text


def _text_of(box) -> str:
    return " ".join(
        [box.text] if hasattr(box, "text") else [_text_of(c) for c in getattr(box, "children", [])]
    )


def _headings_left_alone(html: str) -> list[tuple[int, str]]:
    """(page, heading) for every page whose last content is a heading (WeasyPrint's layout)."""
    from weasyprint import HTML

    alone = []
    for number, page in enumerate(HTML(string=html).render().pages, start=1):
        last: list = [None]  # the heading holding the page's last content, None when it is not in one

        def walk(box, heading):
            if getattr(box, "element_tag", None) in ("h1", "h2", "h3") and heading is None:
                heading = box
            # text, or a figure (an image or an inline SVG is a replaced box)
            if (hasattr(box, "text") and box.text.strip()) or "Replaced" in type(box).__name__:
                last[0] = heading
            for child in getattr(box, "children", []):
                walk(child, heading)

        root = next(c for c in page._page_box.children if getattr(c, "element_tag", None) == "html")
        walk(root, None)
        if last[0] is not None:
            alone.append((number, " ".join(_text_of(last[0]).split())))
    return alone


def test_no_heading_is_left_alone_at_the_bottom_of_a_pdf_page(report_dir):
    pytest.importorskip("weasyprint")
    html = (report_dir / "report.html").read_text(encoding="utf-8")
    assert _headings_left_alone(html) == []
    # the check does catch one: a heading pushed to the bottom of a page by a page-sized block
    filler = (
        '<div style="height: 172mm"></div><h2>Alone at the bottom</h2><p style="break-before: page">next</p>'
    )
    bad = html.replace("<body>", "<body>" + filler, 1)
    assert (1, "Alone at the bottom") in _headings_left_alone(bad)
