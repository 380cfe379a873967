from html.parser import HTMLParser

from battles.core import rendering
from battles.core.rendering import render_markdown


def _attributes(html):
    """Every (tag, attribute, value) the browser would actually see."""
    found = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.extend((tag, name, value or "") for name, value in attrs)

    Collector().feed(html)
    return found


def test_raw_html_in_an_answer_is_shown_as_text():
    html = render_markdown('Hello <script>alert("x")</script> <img src=x onerror=alert(1)>')
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html


def test_images_become_links_and_are_never_loaded():
    html = render_markdown("![chart](https://tracker.example/pixel.png)")
    assert "<img" not in html
    assert 'href="https://tracker.example/pixel.png"' in html


def test_links_get_noopener_noreferrer_nofollow():
    html = render_markdown("[docs](https://example.com)")
    assert 'rel="noopener noreferrer nofollow"' in html


def test_javascript_urls_do_not_become_links():
    for text in ("[x](javascript:alert(1))", "<javascript:alert(1)>", "[x](JaVaScRiPt:alert(1))"):
        html = render_markdown(text).lower()
        assert "href" not in html and "<a" not in html


def test_markdown_structure_survives_sanitising():
    html = render_markdown("# Title\n\n- one\n- **two**\n\n```python\nprint(1)\n```\n\n|a|b|\n|-|-|\n|1|2|")
    for tag in ("<h1>", "<li>", "<strong>", '<code class="language-python">', "<table>"):
        assert tag in html


def test_data_and_event_handler_attributes_are_dropped():
    html = render_markdown('[x](data:text/html,<script>alert(1)</script>) <a href="#" onclick="x()">y</a>')
    attributes = _attributes(html)
    assert not [a for a in attributes if a[1].startswith("on")]
    assert not [a for a in attributes if a[1] == "href" and a[2].startswith("data:")]


def test_hostile_answer_cannot_smuggle_tags_through_markdown_constructs():
    hostile = (
        '[click](https://ok.example "title" onmouseover=alert(1))\n\n'
        "<svg/onload=alert(1)>\n\n`<iframe src=x>`\n\n> <style>body{display:none}</style>"
    )
    html = render_markdown(hostile)
    tags = {tag for tag, _, _ in _attributes(html)} | set()
    assert not [a for a in _attributes(html) if a[1].startswith("on")]
    for bad in ("<svg", "<iframe", "<style", "<script"):
        assert bad not in html
    assert tags <= {"a", "code", "p", "blockquote"}


def test_fenced_code_with_a_known_language_is_highlighted_on_the_server():
    html = render_markdown('```python\nprint("<b>hi</b>")  # done\n```')
    assert '<code class="language-python">' in html
    assert '<span class="nb">print</span>' in html and '<span class="c1"># done</span>' in html
    assert "<b>" not in html and "&lt;b&gt;hi&lt;/b&gt;" in html


def test_code_in_an_unknown_language_or_without_one_stays_plain_text():
    for fence in ("```\nx = <y>\n```", "```nosuchlanguage\nx = <y>\n```"):
        html = render_markdown(fence)
        assert "<span" not in html and "x = &lt;y&gt;" in html


def test_only_the_highlighters_classes_survive_the_sanitiser():
    # An info string cannot name a class of the page's stylesheet, and no answer can style a span.
    html = render_markdown("```copy-code\nx\n```\n\n```python\nx = 1\n```")
    classes = {value for tag, name, value in _attributes(html) if name == "class"}
    assert "language-copy-code" not in classes
    assert classes <= {"", "language-python"} | {f"{c}" for c in ("n", "o", "mi", "w")}


def test_a_huge_code_block_is_not_highlighted_but_still_shown():
    code = "x = 1\n" * 5000
    html = render_markdown(f"```python\n{code}```")
    assert "<span" not in html and html.count("x = 1") == 5000


def test_tables_are_wrapped_so_they_scroll_inside_their_answer():
    html = "".join(render_markdown("| a | b |\n| --- | --- |\n| 1 | 2 |").split())
    # tabindex: a table wider than its answer scrolls, and the keyboard must be able to scroll it.
    assert html.startswith('<divclass="table-scroll"tabindex="0"><table>') and html.endswith("</table></div>")
    assert html.count('scope="col"') == 2  # the header row's cells are column headers


def test_an_answer_cannot_give_a_div_any_other_class():
    # Raw HTML is text anyway; the allow-list keeps only the renderer's own wrapper class on a div.
    html = render_markdown('<div class="vote-form">x</div>\n\n| a |\n| - |\n| 1 |')
    div_classes = [value for tag, name, value in _attributes(html) if tag == "div" and name == "class"]
    assert div_classes == ["table-scroll"]
    assert "&lt;div" in html


def test_an_answer_is_rendered_once_per_process_and_a_very_long_one_each_time():
    answer = "```python\nprint('cached')\n```\n\n<script>alert(1)</script> **once**"
    rendering.cached_render.cache_clear()
    first = rendering.render_markdown(answer)
    second = rendering.render_markdown(answer)
    assert first == second == rendering.render_uncached(answer)
    assert "<script>" not in first
    assert rendering.cached_render.cache_info().hits == 1
    long_answer = "word " * (rendering.RENDER_CACHE_MAX_CHARS // 5 + 1)
    rendering.render_markdown(long_answer)
    rendering.render_markdown(long_answer)
    assert rendering.cached_render.cache_info().currsize == 1
