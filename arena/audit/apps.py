from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "arena.audit"
    label = "audit"
    verbose_name = "Audit trail"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from arena.audit import roles

        roles.connect()
