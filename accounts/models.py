from django.conf import settings
from django.db import models


class OidcIdentity(models.Model):
    """A person at an OpenID provider (issuer + subject, never the email, which can change hands)
    and the Arena user they sign in as."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oidc_identities")
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255, help_text="The provider's stable identifier of the person (sub).")
    groups = models.JSONField(default=list, blank=True, help_text="The groups claim at the last sign-in.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_sign_in = models.DateTimeField()

    class Meta:
        verbose_name = "single sign-on identity"
        verbose_name_plural = "single sign-on identities"
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="one_user_per_oidc_subject")]

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer}"
