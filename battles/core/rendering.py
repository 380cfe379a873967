"""The one renderer for untrusted model text: Markdown → sanitised HTML.

Raw HTML in an answer is shown as text (markdown-it with ``html`` off), and
the output is cleaned again by nh3 so a renderer bug cannot become script in
a voter's browser. Images are never loaded: a remote image is a tracking
beacon and an identity channel, so it becomes a link.

Fenced code with a language is highlighted here, on the server, by Pygments
(no script runs in the browser for it); the sanitiser keeps only the
highlighter's own classes, so an answer cannot smuggle in classes of the
page's stylesheet.
"""

import hashlib
from functools import lru_cache
from importlib.metadata import version

import nh3
from markdown_it import MarkdownIt
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import get_all_lexers, get_lexer_by_name
from pygments.token import STANDARD_TYPES
from pygments.util import ClassNotFound

ALLOWED_TAGS = {
    "a",
    "p",
    "br",
    "hr",
    "strong",
    "em",
    "del",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "span",
    "div",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "th": {"style"},
    "td": {"style"},
    "ol": {"start"},
}
LINK_REL = "noopener noreferrer nofollow"
# Longer blocks are shown as plain text: highlighting is linear for most lexers, but an answer is
# untrusted input and a page must render in milliseconds whatever it holds.
HIGHLIGHT_MAX_CHARS = 20_000
HIGHLIGHT_CLASSES = frozenset(name for name in STANDARD_TYPES.values() if name)
LANGUAGE_CLASSES = frozenset(f"language-{alias}" for _, aliases, _, _ in get_all_lexers() for alias in aliases)
# Only the renderer's own classes survive: the image link, the table wrapper (a wide table scrolls
# inside it instead of widening its answer's column), and the highlighter's language and token classes.
ALLOWED_CLASSES = {
    "a": {"image-link"},
    "div": {"table-scroll"},
    "code": set(LANGUAGE_CLASSES),
    "span": set(HIGHLIGHT_CLASSES),
}


def _image_as_link(self, tokens, idx, options, env):
    token = tokens[idx]
    src = token.attrGet("src") or ""
    alt = self.renderInlineAsText(token.children or [], options, env) or src
    return f'<a href="{_escape(src)}" class="image-link">[image: {_escape(alt)}]</a>'


def _table_open(self, tokens, idx, options, env):
    return '<div class="table-scroll">' + self.renderToken(tokens, idx, options, env)


def _table_close(self, tokens, idx, options, env):
    return self.renderToken(tokens, idx, options, env) + "</div>\n"


def _escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


@lru_cache(maxsize=256)
def _lexer(language: str) -> Lexer | None:
    try:
        return get_lexer_by_name(language, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None


def _highlight(code: str, language: str, attributes: str) -> str:
    """Pygments spans for a fenced block with a known language; "" lets markdown-it escape it as plain text."""
    lexer = _lexer(language.lower()) if language else None
    if lexer is None or len(code) > HIGHLIGHT_MAX_CHARS:
        return ""
    # nowrap: only the spans; markdown-it wraps them in <pre><code class="language-…">.
    return highlight(code, lexer, HtmlFormatter(nowrap=True))


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False, "highlight": _highlight})
    md.enable(["table", "strikethrough"])
    md.add_render_rule("image", _image_as_link)
    md.add_render_rule("table_open", _table_open)
    md.add_render_rule("table_close", _table_close)
    return md


# An answer's HTML depends on its text alone, and rendering one with code costs milliseconds (a 3 kB
# answer with a highlighted block: ~12 ms), while the same answer is shown on its battle's page, its
# reload and its reveal, and to other voters. Each process keeps the last few hundred; longer texts are
# rendered each time, so the cache stays within a few tens of MB.
RENDER_CACHE_SIZE = 512
RENDER_CACHE_MAX_CHARS = 20_000


def render_markdown(text: str) -> str:
    """Safe HTML for an untrusted Markdown string."""
    text = text or ""
    if len(text) > RENDER_CACHE_MAX_CHARS:
        return render_uncached(text)
    return cached_render(text)


def render_uncached(text: str) -> str:
    html = _markdown().render(text)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        allowed_classes=ALLOWED_CLASSES,
        link_rel=LINK_REL,
        url_schemes={"http", "https", "mailto"},
        strip_comments=True,
        filter_style_properties={"text-align"},
        # The only divs are the table wrappers: one that scrolls must be reachable by keyboard. A Markdown
        # table's header cells are its header row: column headers for screen readers.
        set_tag_attribute_values={"div": {"tabindex": "0"}, "th": {"scope": "col"}},
    )


cached_render = lru_cache(maxsize=RENDER_CACHE_SIZE)(render_uncached)


# Stored HTML. An answer is written once (by the generation worker, or an import) and shown on many pages,
# and rendering it costs milliseconds (more than the rest of a battle's page); so its HTML is rendered when
# it is stored and kept beside its text, with the key of what produced it: the text and this renderer
# (its revision and the versions of the libraries that shape its output). A page uses the stored HTML only
# when its key is the current one for the text; otherwise it renders (``render_markdown``), as before.
# Bump RENDERING_REVISION whenever a change here changes the HTML of any answer.
RENDERING_REVISION = "1"


@lru_cache(maxsize=1)
def _renderer_identity() -> bytes:
    libraries = ("markdown-it-py", "nh3", "pygments")
    return "\0".join([RENDERING_REVISION, *(f"{name} {version(name)}" for name in libraries)]).encode()


def html_key(text: str) -> str:
    """The key of the HTML this renderer makes of ``text``: stored HTML with another key is stale."""
    return hashlib.sha256(_renderer_identity() + b"\0" + (text or "").encode()).hexdigest()[:32]


def stored_html(text: str) -> tuple[str, str]:
    """The HTML of ``text`` to store beside it, and its key (``html_key``)."""
    return render_uncached(text or ""), html_key(text)


def html_of(text: str, html: str, key: str) -> str:
    """Safe HTML for ``text``: ``html`` when it was stored under the current key, else rendered now."""
    if key and html and key == html_key(text):
        return html
    return render_markdown(text)
