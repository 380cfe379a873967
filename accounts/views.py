"""Sign-in and sign-out: the sign-in page (single sign-on and, unless turned off, passwords), the
OpenID Connect round trip, the break-glass password page for superusers, and logout, which also
ends the session at the provider when it offers that."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.cache import never_cache

from accounts import oidc
from accounts.forms import SuperuserAuthenticationForm
from accounts.services import RolePolicy, SignInRefused, sign_in_from_claims
from arena.methods import allow_methods

ID_TOKEN_SESSION_KEY = "oidc_id_token"
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def safe_next(request: HttpRequest, candidate: str) -> str:
    """``candidate`` when it is a page of this site, else the default landing page."""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _sso_context(request: HttpRequest, next_url: str) -> dict:
    query = urlencode({"next": next_url}) if next_url else ""
    return {
        "sso_enabled": oidc.enabled(),
        "sso_url": reverse("oidc_login") + (f"?{query}" if query else ""),
        "provider_name": settings.OIDC_PROVIDER_NAME,
    }


class SignInView(auth_views.LoginView):
    """The sign-in page. With ``PASSWORD_LOGIN=0`` it offers single sign-on only and refuses passwords."""

    template_name = "registration/login.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(_sso_context(self.request, context.get("next", "")))
        context["password_login"] = settings.PASSWORD_LOGIN
        return context

    def post(self, request, *args, **kwargs):
        if not settings.PASSWORD_LOGIN:
            context = self.get_context_data()
            context["password_refused"] = True
            return self.render_to_response(context, status=403)
        return super().post(request, *args, **kwargs)


class BreakGlassView(auth_views.LoginView):
    """Password sign-in for superusers when single sign-on is the only way in (or is down)."""

    template_name = "registration/break_glass.html"
    authentication_form = SuperuserAuthenticationForm


def _failure(request: HttpRequest, title: str, message: str, status: int, next_url: str = "") -> HttpResponse:
    context = {"title": title, "message": message, **_sso_context(request, next_url)}
    return render(request, "registration/sso_error.html", context, status=status)


@never_cache
@allow_methods("GET")
def oidc_login(request: HttpRequest) -> HttpResponse:
    next_url = safe_next(request, request.GET.get("next", ""))
    if not oidc.enabled():
        return _failure(request, "Single sign-on is not set up", "Sign in with your username and password.", 404)
    try:
        url = oidc.authorization_url(
            request, redirect_uri=request.build_absolute_uri(reverse("oidc_callback")), next_url=next_url
        )
    except oidc.SignInFailed as failure:
        return _failure(request, failure.title, failure.message, failure.status, next_url)
    return HttpResponseRedirect(url)


@never_cache
@allow_methods("GET")
def oidc_callback(request: HttpRequest) -> HttpResponse:
    if not oidc.enabled():
        return _failure(request, "Single sign-on is not set up", "Sign in with your username and password.", 404)
    try:
        completed = oidc.complete(request)
    except oidc.SignInFailed as failure:
        return _failure(request, failure.title, failure.message, failure.status)
    policy = RolePolicy(
        groups_claim=settings.OIDC_GROUPS_CLAIM,
        admin_groups=tuple(settings.OIDC_ADMIN_GROUPS),
        eval_lead_groups=tuple(settings.OIDC_EVAL_LEAD_GROUPS),
        allowed_domains=tuple(settings.OIDC_ALLOWED_EMAIL_DOMAINS),
    )
    try:
        user = sign_in_from_claims(issuer=completed.issuer, claims=completed.claims, policy=policy)
    except SignInRefused as refused:
        return _failure(request, refused.title, refused.message, refused.status, completed.next_url)
    auth_login(request, user, backend=MODEL_BACKEND)
    # Kept for logout: the provider's end-session endpoint takes it as a hint of whose session to end.
    request.session[ID_TOKEN_SESSION_KEY] = completed.id_token
    return HttpResponseRedirect(safe_next(request, completed.next_url))


@never_cache
@allow_methods("POST", redirect_get=lambda request: "/")
def logout(request: HttpRequest) -> HttpResponse:
    """Signs out here and, after single sign-on, at the provider too when it advertises an
    end-session endpoint (it comes back to the sign-in page)."""
    id_token = request.session.get(ID_TOKEN_SESSION_KEY, "")
    auth_logout(request)
    login_url = request.build_absolute_uri(resolve_url(settings.LOGOUT_REDIRECT_URL))
    if id_token and oidc.enabled():
        end_session = oidc.end_session_url(id_token=id_token, post_logout_redirect_uri=login_url)
        if end_session:
            return HttpResponseRedirect(end_session)
    return HttpResponseRedirect(resolve_url(settings.LOGOUT_REDIRECT_URL))
