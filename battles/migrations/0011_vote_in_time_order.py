import django.utils.timezone
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class AddIndexWithoutBlockingVotes(AddIndexConcurrently):
    """On Postgres, CREATE INDEX CONCURRENTLY: votes keep being stored while the index is built (a plain
    CREATE INDEX holds off every INSERT on the table until it is done). Elsewhere, a plain index."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        return migrations.AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        return migrations.AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [
        ("battles", "0010_battle_voter_prompts"),
    ]

    operations = [
        # The new index first, then the old one on created_at alone goes (the new one leads with it).
        AddIndexWithoutBlockingVotes(
            model_name="vote",
            index=models.Index(
                fields=["created_at", "id"],
                include=("version_a", "version_b", "outcome", "flagged", "insider", "live", "battle"),
                name="vote_in_time_order",
            ),
        ),
        migrations.AlterField(
            model_name="vote",
            name="created_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
    ]
