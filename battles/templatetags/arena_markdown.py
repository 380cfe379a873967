from django import template
from django.utils.safestring import mark_safe

from battles.core.rendering import html_of

register = template.Library()


@register.filter(name="answer_html")
def answer_html_filter(generation):
    """Model text goes through this filter and nowhere else: an answer's safe HTML.

    The HTML stored with the answer when its key still matches its text and the renderer
    (``battles.core.rendering.html_of``), else rendered now: Markdown with raw HTML escaped,
    sanitised by nh3.
    """
    return mark_safe(html_of(generation.text, generation.html, generation.html_key))
