from django.contrib import admin

from accounts.models import OidcIdentity


@admin.register(OidcIdentity)
class OidcIdentityAdmin(admin.ModelAdmin):
    """Who signed in through the identity provider, as whom, and with which groups (read only: the
    provider is the source of truth)."""

    list_display = ("user", "subject", "issuer", "groups", "last_sign_in", "created_at")
    search_fields = ("user__username", "user__email", "subject")
    list_select_related = ("user",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
