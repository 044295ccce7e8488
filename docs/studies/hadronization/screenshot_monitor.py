"""A full-page screenshot of the monitor page of a store, in headless Chromium (playwright).

    PYTHONPATH=$PWD python docs/studies/hadronization/screenshot_monitor.py STORE OUT.png
"""

import subprocess
import sys
import time

from playwright.sync_api import sync_playwright

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def main(store: str, out: str, settle: float = 15.0) -> None:
    monitor = subprocess.Popen([sys.executable, "-m", "orchestrator.monitor", store, "--port", "0"],
                               stdout=subprocess.PIPE, text=True)
    try:
        url = monitor.stdout.readline().split()[2]
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1500, "height": 1900})
            page.set_default_timeout(120_000)
            page.goto(url)
            page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0")
            time.sleep(settle)  # the first refreshes fill every plot and table
            page.screenshot(path=out, full_page=True)
            browser.close()
    finally:
        monitor.terminate()
        monitor.wait(30)


if __name__ == "__main__":
    main(*sys.argv[1:3])
