"""The report as PDF (WeasyPrint), and a PDF page as PNG (pypdfium2) for a quick look.

The HTML report is self-contained (figures are ``data:`` URIs), so rendering it to PDF needs no
network at all. The URL fetcher given to WeasyPrint enforces that: an analyst's report must not
leak that it was opened (or stall on a dead link) because a data file smuggled in a remote URL.
"""

from __future__ import annotations

from pathlib import Path

from riskcast.atomic import atomic_path

__all__ = ["render_pdf", "pdf_to_png", "offline_url_fetcher"]

#: The only URL scheme WeasyPrint may resolve: everything the report needs is inlined.
_ALLOWED_SCHEMES = ("data:",)


def _refuse(url: str) -> None:
    """Raise unless ``url`` is a ``data:`` URI (WeasyPrint logs the error and skips the resource)."""
    if not url.lower().startswith(_ALLOWED_SCHEMES):
        raise ValueError(f"riskcast renders reports offline: refusing to fetch {url[:200]!r}")


def offline_url_fetcher():
    """A WeasyPrint URL fetcher that resolves ``data:`` URIs and refuses everything else.

    WeasyPrint >= 68 wants a ``URLFetcher`` instance (it reads private attributes of the fetcher);
    older versions take a plain callable returning a dict, so both shapes are provided.
    """
    # WeasyPrint and pypdfium2 stay local in this module: they are the optional 'pdf' extra
    # (WeasyPrint also ~0.35 s and Pango's system libraries), and jobs.run.stage_report imports
    # this module whether or not a PDF is asked for.
    try:
        from weasyprint.urls import URLFetcher
    except ImportError:  # WeasyPrint < 68: function-style fetchers
        from weasyprint import default_url_fetcher

        def fetch(url: str, timeout: int = 10, ssl_context=None):
            _refuse(url)
            return default_url_fetcher(url, timeout=timeout, ssl_context=ssl_context)

        return fetch

    class _OfflineFetcher(URLFetcher):
        def fetch(self, url, headers=None):
            _refuse(url)
            return super().fetch(url, headers)

    return _OfflineFetcher(allowed_protocols={"data"})


def render_pdf(html: str, pdf_path: Path, base_url: str | None = None) -> Path:
    """Render the report's HTML to ``pdf_path`` (written atomically) and return the path.

    Args:
        html: the report, as returned by ``riskcast.reporting.report.render_report``.
        pdf_path: where to write the PDF; parent folders are created.
        base_url: base for relative URLs in ``html``. Relative links still resolve to
            ``file:`` URLs, which the offline fetcher refuses: the report must be self-contained.

    Returns:
        ``pdf_path``.
    """
    from weasyprint import HTML  # local: see offline_url_fetcher

    pdf_path = Path(pdf_path)
    document = HTML(string=html, base_url=base_url, url_fetcher=offline_url_fetcher())
    with atomic_path(pdf_path) as tmp:
        document.write_pdf(tmp)
    return pdf_path


def pdf_to_png(pdf_path: Path, png_path: Path, page: int = 0, scale: float = 1.5) -> Path:
    """Rasterise one page of a PDF to PNG (``scale`` 1 = 72 dpi) and return ``png_path``.

    Raises:
        IndexError: ``page`` is beyond the document's last page.
    """
    import pypdfium2 as pdfium  # local: the 'pdf' extra, see offline_url_fetcher

    png_path = Path(png_path)
    pdf = pdfium.PdfDocument(str(pdf_path))
    try:
        if not 0 <= page < len(pdf):
            raise IndexError(f"{pdf_path} has {len(pdf)} page(s); page {page} does not exist")
        bitmap = pdf[page].render(scale=scale)
        image = bitmap.to_pil()
        with atomic_path(png_path) as tmp:
            image.save(tmp, format="PNG")
    finally:
        pdf.close()
    return png_path
