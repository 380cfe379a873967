"""axe-core in the browser tests, and the colour scheme, motion and size a page is seen with.

axe-core is vendored under ``tests/support/axe-core-<version>/`` (MPL-2.0, see its LICENSE; fetched
from the npm registry with ``npm pack axe-core@<version>``): the tests need no network and give
the same answer every run. It is injected through WebDriver, which a page's Content-Security-Policy
does not block, so the pages under test need no exception for it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

AXE_VERSION = "4.14.1"
AXE_PATH = Path(__file__).parent / f"axe-core-{AXE_VERSION}" / "axe.min.js"

SIZES = {"desktop": (1400, 1000), "phone": (390, 844)}
BLOCKING_IMPACTS = ("serious", "critical")


@cache
def _axe_source() -> str:
    return AXE_PATH.read_text(encoding="utf-8")


def emulate(driver, *, scheme: str = "light", reduced_motion: bool = False) -> None:
    """``prefers-color-scheme`` and ``prefers-reduced-motion`` as the page sees them (Chromium's CDP)."""
    driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {
            "features": [
                {"name": "prefers-color-scheme", "value": scheme},
                {"name": "prefers-reduced-motion", "value": "reduce" if reduced_motion else "no-preference"},
            ]
        },
    )


def axe_violations(driver, impacts=BLOCKING_IMPACTS) -> list[dict]:
    """axe-core's violations of the WCAG 2.x A/AA rules and best practices on the current page, of the given impacts."""
    if not driver.execute_script("return !!window.axe"):
        driver.execute_script(_axe_source())
    result = driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        axe.run(document, {resultTypes: ['violations']})
          .then(r => done(r.violations.map(v => ({
              id: v.id, impact: v.impact, help: v.help,
              nodes: v.nodes.slice(0, 5).map(n => ({target: n.target, summary: n.failureSummary})),
          }))))
          .catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));
        """
    )
    return [v for v in result if v["impact"] in impacts]


def assert_no_serious_violations(driver, where: str) -> None:
    violations = axe_violations(driver)
    assert not violations, f"{where}: " + "\n".join(
        f"{v['impact']} {v['id']}: {v['help']} {v['nodes']}" for v in violations
    )
