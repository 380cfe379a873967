from django import template
from django.utils.safestring import mark_safe

from battles.core.rendering import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(text):
    """Model text goes through this filter and nowhere else."""
    # render_markdown escapes raw HTML and sanitises its output with nh3.
    return mark_safe(render_markdown(text))
