"""The Debug Toolbar panel in a real browser: headless Chromium opens a sample endpoint,
opens the drf_autoprefetch panel and reads the plan and the query counts.

Run by the CI's browser leg (``make test-browser``), which installs Debian's
``chromium`` and ``chromium-driver``; the other runs leave it out (marker ``browser``).
A screenshot of the open panel is written to ``$BROWSER_ARTIFACTS`` (default
``.artifacts/`` beside ``manage.py``).
"""

import os
from pathlib import Path

import pytest
from django.conf import settings

from demo.seeding import seed

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")


@pytest.fixture
def browser():
    assert settings.TOOLBAR, "run the browser tests with SAMPLE_API_TOOLBAR=1"
    os.environ.setdefault("SE_OFFLINE", "true")  # never fetch a driver: Debian's is used
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size=1400,1000")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(10)
    yield driver
    driver.quit()


def toolbar_root(browser):
    """Where the toolbar's elements are: its shadow root (recent toolbars) or the page."""
    from selenium.common.exceptions import NoSuchShadowRootException
    from selenium.webdriver.common.by import By

    root = browser.find_element(By.ID, "djDebugRoot")
    try:
        return root.shadow_root
    except NoSuchShadowRootException:
        return browser


def test_the_panel_opens_on_a_sample_endpoint_and_shows_the_plan(browser, live_server, settings):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    settings.DEBUG = True  # the test runner turns it off; the toolbar shows only with it
    seed(5)
    browser.get(f"{live_server.url}/books/?page_size=5")
    toolbar = toolbar_root(browser)
    button = toolbar.find_element(By.CSS_SELECTOR, "#djdt-AutoPrefetchPanel a")
    assert "1 plan, 4 planned" in button.text  # COUNT, books, authors, reviews
    button.click()
    panel = toolbar.find_element(By.CSS_SELECTOR, "#AutoPrefetchPanel")
    WebDriverWait(browser, 10).until(lambda _: "Plans applied" in panel.text)
    text = panel.text
    assert "library.views.BookViewSet list" in text
    assert "library.serializers.BookSerializer" in text
    assert "prefetch authors (library.Author)" in text
    assert "Queries: 4 planned, 0 unplanned" in text
    assert "(plans predict 3)" in text
    artifacts = Path(os.environ.get("BROWSER_ARTIFACTS", settings.BASE_DIR / ".artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(artifacts / "autoprefetch-panel.png"))
