"""Every main page under the Content-Security-Policy in Chromium: no violation, and the scripts, charts,
heatmaps and progress bars still work.

A ``securitypolicyviolation`` listener (tests.support.browser.watch_csp_violations) is installed in
every document before its own scripts run; each page's violations are read after it has loaded and
after what its scripts do.
"""

import pytest
from django.urls import reverse
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from battles.models import GenerationJob, PromptPool
from ratings import tasks
from ratings.models import Benchmark
from tests.factories import make_arena, make_user
from tests.ratings.helpers import make_votes
from tests.support.browser import app_server, browser, csp_violations, log_in, wait, watch_csp_violations  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _visit(driver, url):
    driver.get(url)
    wait(driver, lambda d: d.execute_script("return document.readyState") == "complete")
    # A violation is reported asynchronously: let the event loop run once more.
    driver.execute_script("return new Promise(function (done) { setTimeout(done, 50); })")
    return csp_violations(driver)


def _arena_with_boards():
    pool, llms, _ = make_arena(prompts=6)
    make_votes({llm.name: 1000 + 40 * n for n, llm in enumerate(llms)}, per_pair=15)
    tasks.recompute_now()
    for name, scores in (("Coding", (70, 60, 50)), ("Recall", (40, 80, 60))):
        benchmark = Benchmark.objects.create(name=name)
        for llm, score in zip(llms, scores, strict=True):
            benchmark.scores.create(llm=llm, model_name=llm.name, score=score)
    job = GenerationJob.objects.create(pool=pool)
    job.versions.set([llm.current_version() for llm in llms])
    return pool, llms, job


def test_every_main_page_loads_without_a_policy_violation(app_server, browser, settings):
    settings.ARENA_MIN_VOTE_BASE_MS = 0
    pool, llms, job = _arena_with_boards()
    make_user("boss", role="admin", is_staff=True, is_superuser=True)
    watch_csp_violations(browser)
    base = app_server.url

    assert _visit(browser, f"{base}/accounts/login/") == []
    log_in(browser, base, "boss", "pw-for-tests")

    # The battle page, its script (keyboard vote, reasons, the reveal fragment put in place).
    assert _visit(browser, f"{base}/") == []
    code = browser.find_element(By.CSS_SELECTOR, "[data-battle]").get_attribute("data-battle")
    browser.find_element(By.TAG_NAME, "body").send_keys("1")
    wait(browser, lambda d: d.find_element(By.ID, "reasons").is_displayed())
    browser.switch_to.active_element.send_keys(Keys.CONTROL, Keys.ENTER)
    wait(browser, lambda d: d.find_elements(By.ID, "next-battle"))
    assert csp_violations(browser) == [], "after the vote"
    reveal_url = f"{base}/battle/{code}/"

    benchmark = Benchmark.objects.get(name="Coding")
    pages = [
        reveal_url,
        f"{base}/live/",
        f"{base}/me/",
        f"{base}/leaderboard/",
        f"{base}/leaderboard/?style=1",
        f"{base}/leaderboard/pairs/",
        f"{base}/leaderboard/history/",
        f"{base}/leaderboard/cost/",
        f"{base}/leaderboard/decision/",
        f"{base}/leaderboard/quality/",
        f"{base}/leaderboard/integrity/",
        f"{base}/leaderboard/models/{llms[0].code}/",
        f"{base}/benchmarks/",
        f"{base}/benchmarks/composite/",
        f"{base}/benchmarks/{benchmark.code}/",
        f"{base}/exports/",
        f"{base}/admin/",
        f"{base}/admin/battles/llm/",
        f"{base}/admin/battles/llm/add/",
        f"{base}{reverse('admin:battles_llm_change', args=[llms[0].pk])}",
        f"{base}{reverse('admin:battles_llm_test_connection', args=[llms[0].pk])}",
        f"{base}/admin/battles/promptpool/",
        f"{base}{reverse('admin:battles_promptpool_change', args=[pool.pk])}",
        f"{base}{reverse('admin:battles_promptpool_upload')}",
        f"{base}/admin/battles/generationjob/",
        f"{base}{reverse('admin:battles_generationjob_progress', args=[job.code])}",
        f"{base}/admin/ratings/benchmark/",
        f"{base}/admin/auth/user/",
        f"{base}{reverse('admin:audit_auditevent_changelist')}",
        f"{base}/accounts/break-glass/",
        f"{base}/this-page-does-not-exist/",
    ]
    problems = {url: found for url in pages if (found := _visit(browser, url))}
    assert problems == {}


def test_charts_heatmaps_and_progress_bars_are_drawn_under_the_policy(app_server, browser):
    _, _, job = _arena_with_boards()
    make_user("boss", role="admin", is_staff=True, is_superuser=True)
    watch_csp_violations(browser)
    base = app_server.url
    log_in(browser, base, "boss", "pw-for-tests")

    assert _visit(browser, f"{base}/leaderboard/") == []
    chart = browser.find_element(By.CSS_SELECTOR, "svg.chart")
    assert chart.size["width"] > 200 and chart.size["height"] > 50
    assert browser.find_elements(By.CSS_SELECTOR, "svg.chart circle")

    assert _visit(browser, f"{base}/leaderboard/pairs/") == []
    cells = browser.find_elements(By.CSS_SELECTOR, "table.matrix td[class^='heat-d']")
    assert cells
    colours = {cell.value_of_css_property("background-color") for cell in cells}
    assert colours - {"rgba(0, 0, 0, 0)", "rgb(255, 255, 255)"}, colours  # coloured by the stylesheet

    assert _visit(browser, f"{base}{reverse('admin:battles_generationjob_progress', args=[job.code])}") == []
    done = browser.find_element(By.CSS_SELECTOR, ".job-bar-done")
    bar = browser.find_element(By.CSS_SELECTOR, ".job-bar")
    assert done.size["width"] == pytest.approx(bar.size["width"], abs=2)  # every answer is done


def test_the_upload_limit_script_runs_and_an_injected_inline_script_or_style_is_refused(
    app_server, browser, settings, tmp_path
):
    settings.ARENA_MAX_UPLOAD_BYTES = 100
    make_user("boss", role="admin", is_staff=True, is_superuser=True)
    PromptPool.objects.create(name="existing")
    watch_csp_violations(browser)
    base = app_server.url
    log_in(browser, base, "boss", "pw-for-tests")

    assert _visit(browser, f"{base}{reverse('admin:battles_promptpool_upload')}") == []
    big = tmp_path / "big.csv"
    big.write_text("text\n" + "a prompt that is long enough\n" * 20)
    browser.find_element(By.ID, "id_file").send_keys(str(big))
    browser.find_element(By.CSS_SELECTOR, "#upload-form [type=submit]").click()
    wait(browser, lambda d: "larger than the limit" in d.find_element(By.ID, "file-help").text)
    assert browser.current_url.endswith("/upload/")  # refused in the page, nothing sent
    small = tmp_path / "small.csv"
    small.write_text("text,category\nA short prompt,writing\n")
    browser.find_element(By.ID, "id_file").clear()
    browser.find_element(By.ID, "id_file").send_keys(str(small))
    browser.find_element(By.ID, "id_pool").send_keys("existing")
    browser.find_element(By.CSS_SELECTOR, "#upload-form [type=submit]").click()
    wait(browser, lambda d: d.find_elements(By.ID, "import-summary"))
    assert csp_violations(browser) == [], "the upload preview"

    # What an injected answer or template mistake would do: both are blocked and reported.
    ran = browser.execute_script(
        """
        window.__injectedRan = false;
        var script = document.createElement("script");
        script.textContent = "window.__injectedRan = true;";
        document.body.appendChild(script);
        var div = document.createElement("div");
        div.innerHTML = '<p id="styled" style="color: rgb(255, 0, 0)">x</p>'
          + '<img src="x:" onerror="window.__injectedRan = true">';
        document.body.appendChild(div);
        return new Promise(function (done) { setTimeout(function () { done(window.__injectedRan); }, 100); });
        """
    )
    assert ran is False
    assert browser.find_element(By.ID, "styled").value_of_css_property("color") != "rgba(255, 0, 0, 1)"
    directives = {line.split(" ")[0] for line in csp_violations(browser)}
    assert {"script-src-elem", "style-src-attr", "script-src-attr"} <= directives, directives
