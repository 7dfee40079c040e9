"""A real browser for tests that act in the Airflow UI as a person would: the system's Chromium, headless,
driven by Playwright (`make system-packages` installs Chromium; Playwright's own browser download is not
needed)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Locator, Page, sync_playwright


@contextmanager
def browser_page(url: str, height: int = 1000) -> Iterator[Page]:
    """`url` loaded in a fresh headless Chromium page; the browser is closed afterwards."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Chromium is missing: `make system-packages` installs it"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": height})
            page.goto(url, wait_until="networkidle")
            yield page
        finally:
            browser.close()


def answer(page: Page, button: Locator) -> None:
    """Click a required action's answer (Approve, Reject) and wait until Airflow stored it.

    The click only starts the UI's request, and a page closed right after it may cancel the request before
    it is sent: likely what ci6 met, a run that waited 300 s for a Reject clicked just before the page closed.
    The answer is the only PATCH the required-actions page sends, so that is what is waited for, whatever
    URL an Airflow version gives it.
    """
    with page.expect_response(lambda r: r.request.method == "PATCH",
                              timeout=120_000) as response:
        button.click()
    assert response.value.ok, f"{response.value.status} {response.value.text()}"
