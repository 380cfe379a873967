"""The Content-Security-Policy header, and a sweep of the templates and code for what it would refuse."""

import re
from pathlib import Path

import pytest

from arena import config
from ratings import charts

ROOT = Path(__file__).resolve().parents[2]

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[^>]*\sstyle\s*=", re.IGNORECASE)
STYLE_ELEMENT = re.compile(r"<style[\s>]", re.IGNORECASE)
JAVASCRIPT_URL = re.compile(r"""(href|src|action)\s*=\s*["']\s*javascript:""", re.IGNORECASE)


def _directives(header: str) -> dict[str, list[str]]:
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


@pytest.mark.django_db
def test_pages_carry_a_strict_policy(client):
    policy = _directives(client.get("/accounts/login/")["Content-Security-Policy"])
    assert policy["default-src"] == ["'self'"]
    for directive in ("script-src", "style-src"):
        assert policy[directive] == ["'self'"], directive  # no 'unsafe-inline', no nonce needed
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]


@pytest.mark.django_db
def test_forms_may_go_to_the_identity_providers_origin(client, settings):
    settings.OIDC_ISSUER = "https://login.example.com/realms/acme"
    policy = _directives(client.get("/accounts/login/")["Content-Security-Policy"])
    assert policy["form-action"] == ["'self'", "https://login.example.com"]
    assert config.origin_of("") == "" and config.origin_of("login.example.com") == ""


def _sources():
    for folder in ("templates", "battles", "ratings", "arena"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in {".html", ".py"} and "migrations" not in path.parts:
                yield path


@pytest.mark.parametrize(
    "pattern", [INLINE_SCRIPT, INLINE_HANDLER, STYLE_ATTRIBUTE, STYLE_ELEMENT, JAVASCRIPT_URL], ids=lambda p: p.pattern
)
def test_no_template_or_view_writes_what_the_policy_refuses(pattern):
    found = [
        f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, match.start()) + 1}: {match.group(0)[:80]}"
        for path in _sources()
        for text in [path.read_text(encoding="utf-8")]
        for match in pattern.finditer(text)
    ]
    assert found == []


def test_the_heatmap_stylesheet_matches_the_colours_of_the_charts_module():
    css = (ROOT / "static" / "css" / "heat.css").read_text()
    assert charts.heat_css() in css
    assert charts.diverging_tone(0.5) == "heat-d10" and charts.diverging_tone(None) == "heat-none"
    assert charts.diverging_tone(1.7) == "heat-d20" and charts.diverging_tone(-1) == "heat-d0"
    assert charts.sequential_tone(0, 10) == "heat-s0" and charts.sequential_tone(10, 10) == "heat-s10"
    for tone in [charts.diverging_tone(k / 40) for k in range(41)] + [charts.sequential_tone(k, 37) for k in range(38)]:
        assert f".{tone}{{" in css, tone
