"""What voting and generation recorded: read-only admin pages (answers, battles, votes)."""

from django.contrib import admin

from battles.models import Battle, Generation, Vote
from battles.voting.exclusions import exclude_votes, restore_votes


@admin.register(Generation)
class GenerationAdmin(admin.ModelAdmin):
    list_display = ("id", "llm_version", "prompt", "status", "attempts", "latency_ms", "tokens_out", "cost")
    list_filter = ("status", "llm_version__llm")
    readonly_fields = [f.name for f in Generation._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(Battle)
class BattleAdmin(admin.ModelAdmin):
    list_display = ("code", "voter", "version_a", "version_b", "status", "live", "created_at")
    list_filter = ("status", "live")
    readonly_fields = [f.name for f in Battle._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(Vote)
class VoteAdmin(admin.ModelAdmin):
    list_display = ("id", "voter", "version_a", "version_b", "outcome", "insider", "flagged", "created_at")
    list_filter = ("outcome", "insider", "flagged", "live")
    readonly_fields = [f.name for f in Vote._meta.fields]
    actions = ["exclude_selected", "restore_selected"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Exclude selected votes from the boards (kept, flagged)", permissions=["change"])
    def exclude_selected(self, request, queryset):
        self.message_user(request, f"Excluded {exclude_votes(votes=queryset)} vote(s); the boards are recomputed.")

    @admin.action(description="Restore selected votes (count them again)", permissions=["change"])
    def restore_selected(self, request, queryset):
        self.message_user(request, f"Restored {restore_votes(votes=queryset)} vote(s); the boards are recomputed.")
