"""The Content-Security-Policy middleware: django-csp's, with the identity provider's origin.

Signing out at the identity provider is a POST here answered by a redirect to its end-session
endpoint, and browsers check that redirect against ``form-action``; so the provider's origin
(``OIDC_ISSUER``'s) is added to it, read from the settings on each response.
"""

from __future__ import annotations

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

from arena.config import origin_of


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        origin = origin_of(getattr(settings, "OIDC_ISSUER", ""))
        if origin:
            update = dict(parts.update or {})
            update["form-action"] = [*update.get("form-action", []), origin]
            parts.update = update
        return parts
