"""The built book, opened in a real browser: what a reader sees.

Every HTML page of ``_build/html`` is served on localhost and loaded in headless Chromium (the
Debian ``chromium`` and ``chromium-driver`` packages, driven by selenium; no browser is
downloaded). After MathJax has typeset a page, the checks look for

* raw TeX in the visible text (``$`` or a ``\\command`` outside the rendered math);
* MathJax errors (``mjx-merror``);
* images that did not load (``naturalWidth == 0``);
* internal links to a page, file or ``#anchor`` that does not exist;
* errors in the browser console (a failed load of a script, a style sheet or a font shows
  up here, which is how something fetched from the network, and missing offline, fails);
* display equations wider than the text column at a desktop window of 1280 × 900 pixels.

Run it after building the book (``jupyter-book build .``)::

    python -m pytest tests/test_browser.py -s

It skips, saying why, when the book is not built or Chromium is not installed; with
``NTKBOOK_BROWSER_TEST=require`` (as in ``.ci/run``) those reasons fail instead.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import sys
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
WINDOW = (1280, 900)
REQUIRED = os.environ.get("NTKBOOK_BROWSER_TEST", "").lower() == "require"
CHROMIUM = ("chromium", "chromium-browser")
CHROMEDRIVER = ("chromedriver", "chromium.chromedriver")

# Collected in the page after MathJax has finished typesetting.
INSPECT_PAGE = r"""
const done = arguments[arguments.length - 1];
const skip = new Set(["SCRIPT", "STYLE", "PRE", "CODE", "KBD", "SAMP", "TEXTAREA", "NOSCRIPT",
                      "MJX-CONTAINER", "MJX-ASSISTIVE-MML", "MATH"]);
function hidden(el) {
  for (let e = el; e; e = e.parentElement) {
    if (skip.has(e.tagName)) return true;
    if (e.classList && (e.classList.contains("highlight") || e.classList.contains("output")))
      return true;
  }
  return false;
}
async function inspect() {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  // Open every dropdown (solutions, hidden cells) so that what it holds is measured too.
  document.querySelectorAll("details").forEach(d => { d.open = true; });
  document.querySelectorAll(".toggle-hidden").forEach(e => e.classList.remove("toggle-hidden"));
  document.querySelectorAll("img").forEach(img => { img.loading = "eager"; });
  await Promise.all(Array.from(document.images).map(img => img.complete ? null :
    new Promise(r => { img.addEventListener("load", r); img.addEventListener("error", r);
                       setTimeout(r, 10000); })));
  const rawTex = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent;
    if ((text.includes("$") || /\\[A-Za-z]{2,}/.test(text)) && !hidden(node.parentElement))
      rawTex.push(text.trim().slice(0, 120));
  }
  const displays = Array.from(document.querySelectorAll('mjx-container[display="true"]'));
  const overflowing = [];
  for (const c of displays) {
    const math = c.querySelector("mjx-math");
    if (!math || c.getClientRects().length === 0) continue;
    const column = (c.closest(".math-wrapper, div.math, .MathJax_Display") || c.parentElement)
      .getBoundingClientRect().width;
    const width = math.getBoundingClientRect().width;
    if (width > column + 1) {
      const label = c.closest("[id]");
      overflowing.push({id: label ? label.id : "", width: Math.round(width),
                        column: Math.round(column),
                        tex: (c.getAttribute("aria-label") || c.textContent).slice(0, 80)});
    }
  }
  return {
    mathjax: !!(window.MathJax && MathJax.version),
    merrors: Array.from(document.querySelectorAll("mjx-merror"))
               .map(e => e.textContent.slice(0, 120)),
    rawTex: rawTex,
    images: Array.from(document.images).map(img => ({src: img.currentSrc || img.src,
                                                      ok: img.complete && img.naturalWidth > 0,
                                                      alt: img.getAttribute("alt")})),
    links: Array.from(document.querySelectorAll("a[href]")).map(a => a.href),
    ids: Array.from(document.querySelectorAll("[id]")).map(e => e.id)
           .concat(Array.from(document.querySelectorAll("a[name]")).map(a => a.name)),
    displays: displays.length,
    mathElements: document.querySelectorAll("span.math, div.math").length,
    overflowing: overflowing,
  };
}
inspect().then(done, e => done({error: String(e)}));
"""


def _unavailable(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"browser test required (NTKBOOK_BROWSER_TEST=require) but {reason}")
    pytest.skip(reason)


def _which(names: tuple[str, ...]) -> str | None:
    for name in names:
        found = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists()
                                       else None)
        if found:
            return found
    return None


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the signature of the base class
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        # The browser drops connections it no longer needs (a page left before an image or a
        # font finished); only other errors are worth a traceback.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


def _pages() -> list[Path]:
    return sorted(p for p in HTML.rglob("*.html")
                  if not ({"_static", "_sources", "_images"} & set(p.relative_to(HTML).parts)))


@pytest.fixture(scope="module")
def report() -> dict:
    """Load every page once and collect what the checks below need."""
    if not (HTML / "index.html").exists():
        _unavailable(f"the book is not built ({HTML / 'index.html'} is missing); "
                     "build it with `jupyter-book build .` first")
    chromium, chromedriver = _which(CHROMIUM), _which(CHROMEDRIVER)
    if chromium is None or chromedriver is None:
        _unavailable("Chromium is not installed (Debian: apt-get install chromium chromium-driver)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _unavailable("selenium is not installed (pip install -r requirements.txt)")

    handler = functools.partial(_QuietHandler, directory=str(HTML))
    server = _QuietServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    profile = tempfile.mkdtemp(prefix="ntkbook-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 f"--user-data-dir={profile}", f"--window-size={WINDOW[0]},{WINDOW[1]}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    driver.set_script_timeout(120)
    driver.set_page_load_timeout(120)
    pages: dict[str, dict] = {}
    try:
        for page in _pages():
            url = base + page.relative_to(HTML).as_posix()
            driver.get(url)
            found = driver.execute_async_script(INSPECT_PAGE)
            found["console"] = [entry["message"] for entry in driver.get_log("browser")
                                if entry["level"] == "SEVERE"]
            pages[url] = found
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    try:
        targets = _check_links(base, pages)
    finally:
        server.shutdown()
    result = {"base": base, "pages": pages, "links": targets}
    _print_counts(result)
    return result


def _check_links(base: str, pages: dict[str, dict]) -> dict[str, str]:
    """Internal link -> '' if it resolves, else what is wrong with it."""
    status: dict[str, str] = {}
    reachable: dict[str, str] = {}
    for page in pages.values():
        for link in page["links"]:
            if not link.startswith(base) or link in status:
                continue
            target, _, fragment = link.partition("#")
            if target not in reachable:
                try:
                    with urllib.request.urlopen(target, timeout=30) as response:
                        reachable[target] = "" if response.status == 200 else str(response.status)
                except urllib.error.URLError as error:
                    reachable[target] = str(error)
            problem = reachable[target]
            page_ids = pages.get(target, {}).get("ids")
            if not problem and fragment and page_ids is not None:
                if urllib.parse.unquote(fragment) not in page_ids:
                    problem = f"no element with id {fragment!r} on the page"
            status[link] = problem
    return status


def _print_counts(result: dict) -> None:
    pages = result["pages"].values()
    counts = {
        "pages": len(result["pages"]),
        "display equations": sum(p["displays"] for p in pages),
        "overflowing display equations": sum(len(p["overflowing"]) for p in pages),
        "MathJax errors": sum(len(p["merrors"]) for p in pages),
        "raw TeX text nodes": sum(len(p["rawTex"]) for p in pages),
        "images": sum(len(p["images"]) for p in pages),
        "missing images": sum(not i["ok"] for p in pages for i in p["images"]),
        "figures without alt text": sum(_no_alt(i) for p in pages for i in p["images"]),
        "internal links": len(result["links"]),
        "broken internal links": sum(bool(v) for v in result["links"].values()),
        "console errors": sum(len(p["console"]) for p in pages),
    }
    result["counts"] = counts
    print("\nbrowser test on the built book: " + json.dumps(counts))


def _no_alt(image: dict) -> bool:
    """A figure of the book whose alt text is missing or only repeats its file name."""
    alt = (image["alt"] or "").strip()
    return "_images/" in image["src"] and (not alt or "_images/" in alt
                                           or alt.lower().endswith((".png", ".svg", ".jpg")))


def _where(result: dict, key: str) -> list[str]:
    base = result["base"]
    return [f"{url.removeprefix(base)}: {item}" for url, page in result["pages"].items()
            for item in page[key]]


def test_mathjax_is_loaded_from_the_book(report) -> None:
    missing = [url for url, p in report["pages"].items()
               if p["mathElements"] and not p["mathjax"]]
    assert not missing, f"MathJax did not load on {missing}"


def test_no_raw_tex_is_visible(report) -> None:
    found = _where(report, "rawTex")
    assert not found, f"{len(found)} text nodes show raw TeX:\n" + "\n".join(found[:40])


def test_no_mathjax_errors(report) -> None:
    found = _where(report, "merrors")
    assert not found, f"{len(found)} MathJax errors:\n" + "\n".join(found[:40])


def test_every_image_loads(report) -> None:
    missing = [f"{url}: {i['src']}" for url, p in report["pages"].items()
               for i in p["images"] if not i["ok"]]
    assert not missing, f"{len(missing)} images did not load:\n" + "\n".join(missing[:40])


def test_figures_have_alt_text(report) -> None:
    missing = [f"{url}: {i['src']}" for url, p in report["pages"].items()
               for i in p["images"] if _no_alt(i)]
    assert not missing, f"{len(missing)} figures have no alt text:\n" + "\n".join(missing[:40])


def test_internal_links_resolve(report) -> None:
    broken = [f"{link}: {why}" for link, why in report["links"].items() if why]
    assert not broken, f"{len(broken)} broken internal links:\n" + "\n".join(broken[:40])


def test_no_console_errors(report) -> None:
    found = _where(report, "console")
    assert not found, f"{len(found)} console errors:\n" + "\n".join(found[:40])


def test_display_equations_fit_the_column(report) -> None:
    found = _where(report, "overflowing")
    assert not found, (f"{len(found)} display equations are wider than the text column at "
                       f"{WINDOW[0]} px:\n" + "\n".join(found[:60]))
