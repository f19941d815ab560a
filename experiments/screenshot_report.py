"""The README's picture: the seed's HTML report (``reorder order --html``) as a small PNG.

    python experiments/screenshot_report.py [--model news] [-o experiments/results/report-seed.png]

Renders the report of ``seeds/russia-syria-withdrawal-2016.txt`` with the given model (default: the
shipped news model), opens it in headless chromium through the system chromedriver (as
tests/test_browser.py does), and saves the top of the page, reduced to a 64-colour palette so that
it stays small. Writes the report beside the picture (``report-seed.html``).
"""

from __future__ import annotations

import argparse
import io
import shutil
import tempfile
from pathlib import Path

from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

import reorder

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "seeds" / "russia-syria-withdrawal-2016.txt"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
         "--hide-scrollbars", "--force-device-scale-factor=1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None)
    parser.add_argument("-o", "--output", default=str(ROOT / "experiments" / "results" / "report-seed.png"))
    parser.add_argument("--width", type=int, default=960)
    parser.add_argument("--height", type=int, default=1100)
    args = parser.parse_args()
    reorderer = reorder.Reorderer(model=args.model)
    report = reorder.order_report(reorderer, SEED.read_text(encoding="utf-8"))
    output = Path(args.output)
    html = output.with_suffix(".html")
    html.write_text(reorder.render_report(report), encoding="utf-8")
    options = Options()
    options.binary_location = shutil.which("chromium")
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={args.width},{args.height}")
    with tempfile.TemporaryDirectory() as profile:
        options.add_argument(f"--user-data-dir={profile}")
        driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
        try:
            driver.get(html.as_uri())
            png = driver.get_screenshot_as_png()
        finally:
            driver.quit()
    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=64)
    image.save(output, optimize=True)
    print(f"wrote {output} ({output.stat().st_size // 1024} KB) and {html}; {report.result.signature}")


if __name__ == "__main__":
    main()
