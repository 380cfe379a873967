"""What can be checked of the production stack without a Docker engine."""

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def _compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_the_production_services_with_health_checks():
    services = _compose()["services"]
    for name in ("postgres", "redis", "web", "ws", "worker", "boards", "proxy"):
        assert name in services, name
    for name in ("postgres", "redis", "web", "ws", "worker", "boards", "proxy"):
        assert "healthcheck" in services[name], f"{name} has no health check"


def test_web_is_gunicorn_and_ws_is_daphne():
    services = _compose()["services"]
    assert services["web"]["command"][0] == "gunicorn"
    assert services["web"]["command"][1] == "arena.wsgi:application"
    assert services["ws"]["command"][0] == "daphne"
    assert services["ws"]["command"][-1] == "arena.asgi:application"
    # At a lower CPU priority than the web, and board refits lower still: at the idle class.
    assert services["worker"]["command"][:6] == ["nice", "-n", "10", "celery", "-A", "arena"]
    assert services["boards"]["command"][:6] == ["chrt", "--idle", "0", "celery", "-A", "arena"]


def test_board_refits_have_their_own_queue_and_worker_and_the_rest_does_not():
    services = _compose()["services"]
    environment = _compose()["x-app"]["environment"]
    boards_queue = environment["CELERY_BOARDS_QUEUE"]
    worker, boards = services["worker"]["command"], services["boards"]["command"]
    assert worker[worker.index("-Q") + 1] == "arena"
    assert boards[boards.index("-Q") + 1] == boards_queue != "arena"


def test_commands_the_compose_file_runs_exist_in_the_environment():
    for service in _compose()["services"].values():
        command = service.get("command")
        if not command or service.get("image", "").startswith(("postgres", "redis", "nginx")):
            continue
        program = command[0]
        assert (VENV_BIN / program).exists() or shutil.which(program), f"{program} is not installed"


def test_proxy_routes_ws_to_daphne_and_the_rest_to_gunicorn():
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert re.search(r"location /ws/ \{\s*proxy_pass http://ws;", conf)
    assert re.search(r"location / \{\s*proxy_pass http://web;", conf)
    assert "Upgrade $http_upgrade" in conf


def _interpolate(value: str) -> str:
    """``${NAME:-default}`` as docker compose fills it in (from the environment, else the default)."""
    return re.sub(r"\$\{(\w+)(?::-([^}]*))?\}", lambda m: os.environ.get(m[1]) or m[2] or "", value)


def _compose_env(service):
    env = dict(os.environ)
    for key in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CHANNEL_LAYER_URL"):
        env.pop(key, None)
    env.update({k: _interpolate(str(v)) for k, v in service["environment"].items()})
    env["SECRET_KEY"] = "compose-check"
    return env


def test_settings_the_compose_file_passes_are_accepted():
    services = _compose()["services"]
    for name in ("web", "ws", "worker"):
        result = subprocess.run(
            [sys.executable, "manage.py", "check"],
            cwd=ROOT,
            env=_compose_env(services[name]),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, f"{name}: {result.stderr}"


def test_wsgi_and_asgi_entry_points_import_with_the_compose_settings():
    services = _compose()["services"]
    code = "import arena.wsgi, arena.asgi; print(arena.wsgi.application, arena.asgi.application)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=_compose_env(services["ws"]),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_env_example_lists_every_variable_settings_read():
    tree = ast.parse((ROOT / "arena" / "settings.py").read_text())
    read = {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", "").startswith("env_")
        and node.args
        and isinstance(node.args[0], ast.Constant)
    }
    listed = {
        line.split("=", 1)[0].strip()
        for line in (ROOT / ".env.example").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert read - listed == set()


def test_gunicorn_accepts_the_web_command_and_each_instance_has_its_own_control_socket(tmp_path):
    command = _compose()["services"]["web"]["command"]
    assert command[0] == "gunicorn"
    options = command[1:]
    socket_path = options[options.index("--control-socket") + 1]
    assert not socket_path.startswith("~") and "gunicorn-web" in socket_path  # not the shared default
    # The same options, with the socket in this test's directory: gunicorn parses them and loads the app.
    options[options.index("--control-socket") + 1] = str(tmp_path / "gunicorn-web.ctl")
    result = subprocess.run(
        [str(VENV_BIN / "gunicorn"), "--check-config", *options],
        cwd=ROOT,
        env=_compose_env(_compose()["services"]["web"]),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_the_single_sign_on_settings_reach_the_app_and_are_documented():
    names = [
        "OIDC_ISSUER",
        "OIDC_CLIENT_ID",
        "OIDC_CLIENT_SECRET",
        "OIDC_SCOPES",
        "OIDC_GROUPS_CLAIM",
        "OIDC_ADMIN_GROUPS",
        "OIDC_EVAL_LEAD_GROUPS",
        "OIDC_ALLOWED_EMAIL_DOMAINS",
        "OIDC_PROVIDER_NAME",
        "PASSWORD_LOGIN",
    ]
    environment = _compose()["services"]["web"]["environment"]
    example = (ROOT / ".env.example").read_text()
    readme = (ROOT / "README.md").read_text()
    for name in names:
        assert name in environment, name
        assert re.search(rf"^{name}=", example, re.MULTILINE), name
        assert f"`{name}`" in readme, name
