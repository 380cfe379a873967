"""The voter's path on SQLite, as the embedded demo (`make demo`) runs it; the rest of the suite runs on Postgres.

The hot reads (session, battle) and the new battle's queries are written per database (a LIMIT inside a
UNION, for one, is Postgres-only). Here a voter goes through new battles, their pages, reloads, votes and
reveals in a subprocess in embedded mode: SQLite, no Redis, tasks in process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

VOTER_SCRIPT = """
from django.test import Client
from tests.factories import make_arena, make_user, own_battle_url

make_arena(llms=("alpha", "beta", "gamma"), prompts=4)
client = Client(HTTP_HOST="127.0.0.1")
client.force_login(make_user("embedded-voter"))
for _ in range(4):
    new = client.get("/")
    assert new.status_code == 200 and b'id="vote-form"' in new.content, new.status_code
    url = own_battle_url(new)
    page = client.get(url)
    assert page.status_code == 200 and b'id="vote-form"' in page.content, page.status_code
    assert own_battle_url(client.get("/")) == url
    code = url.rstrip("/").rsplit("/", 1)[-1]
    vote = client.post(f"/battle/{code}/vote/", {"outcome": "tie"}, headers={"X-Arena-Fragment": "1"})
    assert vote.status_code == 200 and b"You voted" in vote.content, (vote.status_code, vote.content[:300])
last = client.get("/")
assert last.status_code == 200 and b"Nothing left to vote on" in last.content, last.status_code
print("voted on SQLite")
"""


def test_a_voter_votes_through_the_arena_in_embedded_mode(tmp_path):
    drop = {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CHANNEL_LAYER_URL", "TEST_DATABASE_NAME"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(SQLITE_PATH=str(tmp_path / "embedded.sqlite3"), DJANGO_SETTINGS_MODULE="arena.settings")
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True, timeout=120)
    result = subprocess.run(
        [*manage, "shell", "-c", VOTER_SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert "voted on SQLite" in result.stdout
