"""Screenshots of a reproduce run's report.html at 1,400 px and of the README at 880 px, by headless Chromium.

Chromium is Qt WebEngine's (PyQt6-WebEngine bundles it; no browser download), rendering off screen::

    pip install "deeploc-keras[screenshots]"      # PyQt6-WebEngine and markdown
    QT_QPA_PLATFORM=offscreen python benchmarks/screenshot_report.py RUN/report.html --readme README.md --out shots

Each page is cut into viewport-high slices (``report_01.png``, ``report_02.png``, ..., ``readme_01.png``, ...).
For each page the script prints its size in CSS pixels, how far it overflows the viewport sideways (0: a reader
never scrolls sideways) and the elements that stick out. The README is rendered from Markdown with GitHub's
column (880 px, tables scroll inside themselves as on GitHub, images at most the column's width).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

#: Widths of the two pages, in CSS pixels: a desktop browser window, and the README's column on GitHub.
REPORT_WIDTH, README_WIDTH = 1400, 880
_VIEWPORT_HEIGHT = 1100
_SEGMENT = 11 * _VIEWPORT_HEIGHT
_README_STYLE = """<style>
body{box-sizing:border-box;max-width:880px;margin:0 auto;padding:16px;font-family:-apple-system,"Segoe UI",
Helvetica,Arial,sans-serif;font-size:16px;line-height:1.5;color:#1f2328;}
img{max-width:100%;} table{display:block;max-width:100%;overflow:auto;border-collapse:collapse;}
td,th{border:1px solid #d1d9e0;padding:6px 13px;} pre{overflow:auto;background:#f6f8fa;padding:16px;}
code{font-size:85%;}
</style>"""
_STICKING_OUT = """Array.from(document.querySelectorAll('body *')).filter(e => {
  const r = e.getBoundingClientRect(); return r.right > document.documentElement.clientWidth + 1 && r.width > 0;
}).filter(e => {  // the outermost: not inside one that sticks out, or that scrolls it within itself
  for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
    if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(a).overflowX)) return false;
    if (a.getBoundingClientRect().right > document.documentElement.clientWidth + 1) return false;
  }
  return true;
})
  .map(e => {
    let h = e; while (h && !/^H[1-4]$/.test(h.tagName)) h = h.previousElementSibling || h.parentElement;
    return e.tagName.toLowerCase() + ' ' + Math.round(e.getBoundingClientRect().width) + ' px'
           + (h ? ' under "' + h.textContent.slice(0, 60) + '"' : '');
  }).slice(0, 10)"""


def _qt():
    """The Qt classes, with an application; a clear message when PyQt6-WebEngine is missing."""
    try:
        from PyQt6.QtCore import QEventLoop, QTimer, QUrl
        from PyQt6.QtWebEngineWidgets import QWebEngineView
        from PyQt6.QtWidgets import QApplication
    except ImportError:
        sys.exit("screenshot_report.py needs PyQt6-WebEngine: pip install 'deeploc-keras[screenshots]'")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--no-sandbox")
    app = QApplication.instance() or QApplication([sys.argv[0]])
    return app, QEventLoop, QTimer, QUrl, QWebEngineView


def _wait(qt, ms: int) -> None:
    _, event_loop, timer, *_ = qt
    loop = event_loop()
    timer.singleShot(ms, loop.quit)
    loop.exec()


def _javascript(qt, view, script: str):
    loop, result = qt[1](), []
    view.page().runJavaScript(script, lambda value: (result.append(value), loop.quit()))
    loop.exec()
    return result[0]


def shoot(qt, page: Path, width: int, out: Path, stem: str, *, max_slices: int = 40) -> list[Path]:
    """Render ``page`` (an HTML file) ``width`` CSS px wide and save it in viewport-high PNG slices."""
    view = qt[4]()
    view.resize(width, _VIEWPORT_HEIGHT)
    view.show()
    loop = qt[1]()
    view.loadFinished.connect(lambda ok: loop.quit())
    view.load(qt[3].fromLocalFile(os.fspath(page.resolve())))
    loop.exec()
    _wait(qt, 800)
    height = int(_javascript(qt, view, "document.documentElement.scrollHeight"))
    overflow = int(_javascript(qt, view, "document.documentElement.scrollWidth - "
                                         "document.documentElement.clientWidth"))
    print(f"{page}: {width} x {height} CSS px; sideways overflow {overflow} px; sticking out: "
          f"{_javascript(qt, view, _STICKING_OUT) or 'nothing'}")
    paths: list[Path] = []
    view.resize(width, min(_SEGMENT, height))  # a segment is rendered whole and cut into slices: no stale frames
    for segment in range(0, min(height, max_slices * _VIEWPORT_HEIGHT), _SEGMENT):
        tall = min(_SEGMENT, height - segment)
        _javascript(qt, view, f"window.scrollTo(0, {segment})")
        _wait(qt, 1500)
        offset = int(_javascript(qt, view, "window.scrollY")) - segment  # the last segment may scroll less
        image = view.grab().toImage()
        for top in range(0, tall, _VIEWPORT_HEIGHT):
            path = out / f"{stem}_{len(paths) + 1:02d}.png"
            image.copy(0, top - offset, width, min(_VIEWPORT_HEIGHT, tall - top)).save(os.fspath(path))
            paths.append(path)
    view.close()
    return paths


def readme_html(readme: Path, out: Path) -> Path:
    """The README as a page of GitHub's column width, its images read from beside the README."""
    import markdown

    body = markdown.markdown(readme.read_text(), extensions=["tables", "fenced_code"])
    page = out / "readme.html"
    base = readme.resolve().parent.as_uri() + "/"
    page.write_text(f'<!DOCTYPE html><html><head><meta charset="utf-8"><base href="{base}">{_README_STYLE}'
                    f"</head><body>{body}</body></html>")
    return page


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("report", type=Path, help="a reproduce run's report.html")
    parser.add_argument("--readme", type=Path, help="README.md to render at 880 px as well")
    parser.add_argument("--out", type=Path, required=True, help="folder for the PNG slices (created)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    qt = _qt()
    written = shoot(qt, args.report, REPORT_WIDTH, args.out, "report")
    if args.readme:
        written += shoot(qt, readme_html(args.readme, args.out), README_WIDTH, args.out, "readme")
    print(f"wrote {len(written)} PNG slices to {args.out}")


if __name__ == "__main__":
    main()
