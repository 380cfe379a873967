from django import forms
from django.contrib.auth.forms import AuthenticationForm


class SuperuserAuthenticationForm(AuthenticationForm):
    """Break-glass sign-in: a password works here only for a superuser. Anyone else gets the same
    answer as for a wrong password, so the page tells nothing about other accounts."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Only a superuser's username and password work here.",
    }

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if not user.is_superuser:
            raise forms.ValidationError(self.error_messages["invalid_login"], code="invalid_login")
