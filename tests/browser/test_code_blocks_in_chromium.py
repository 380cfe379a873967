"""Code in answers: highlighted by the server, with a working copy button, in headless Chromium."""

import pytest

from battles.models import Generation
from tests.factories import make_arena, make_user
from tests.support.browser import app_server, browser, log_in  # noqa: F401  (fixtures)
from tests.support.browser import wait as _wait

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CODE = "def greet(name):\n    return f'hello {name}'\n"


def test_code_blocks_are_highlighted_and_each_has_a_copy_button(app_server, browser):
    from selenium.webdriver.common.by import By

    make_arena(llms=("coder-a", "coder-b"), prompts=1)
    Generation.objects.update(text=f"Here it is:\n\n```python\n{CODE}```\n")
    make_user("coder", password="a-long-password")
    log_in(browser, app_server.url, "coder", "a-long-password")
    browser.execute_cdp_cmd(
        "Browser.grantPermissions",
        {"origin": app_server.url, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
    )
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".md pre .copy-code"))
    blocks = browser.find_elements(By.CSS_SELECTOR, ".md pre")
    assert len(blocks) == 2
    assert all(block.find_elements(By.CSS_SELECTOR, "span.k") for block in blocks), "no keyword highlighted"
    button = blocks[0].find_element(By.CSS_SELECTOR, ".copy-code")
    button.click()
    _wait(browser, lambda d: button.text == "Copied")
    copied = browser.execute_async_script("navigator.clipboard.readText().then(arguments[0])")
    assert copied == CODE
