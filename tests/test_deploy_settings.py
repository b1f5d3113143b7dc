"""The demo site's settings (petitions_site/settings.py) start safe or not at all.

Settings are read once, at import, so each case runs in a subprocess with its
own environment: the variables below are taken out of the inherited one and
set again per case.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: Variables the settings read for their safety, cleared before each case.
SAFETY_VARIABLES = (
    "DJANGO_SETTINGS_MODULE",
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "PETITIONS_SITE_URL",
    "SITE_URL",
    "WAGTAILADMIN_BASE_URL",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
)
DEMO_KEY = "demo-only-insecure-key-set-SECRET_KEY-in-production"
#: What a production start sets (the key is long and varied enough for check --deploy).
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "test-deploy-9Xq2vL7mR4tK8wZ1nB6cJ3hF5gD0sA-pY7uE2iO4",
    "ALLOWED_HOSTS": "petitions.example.org",
    "PETITIONS_SITE_URL": "https://petitions.example.org",
}


def run_site(tmp_path, argv, **env):
    """Run ``python argv`` in the repository with the demo settings and ``env`` (None: unset)."""
    environ = {name: value for name, value in os.environ.items() if name not in SAFETY_VARIABLES}
    environ["PETITIONS_VAR_DIR"] = str(tmp_path)
    environ.update({name: value for name, value in env.items() if value is not None})
    return subprocess.run(  # noqa: S603 (our own command line)
        [sys.executable, *argv], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120
    )


def import_settings(tmp_path, **env):
    code = "import petitions_site.settings as s; print('DEBUG', s.DEBUG, 'SITE_URL', s.PETITIONS['SITE_URL'])"
    return run_site(tmp_path, ["-c", code], **env)


@pytest.mark.parametrize(
    ("case", "env", "variable"),
    [
        ("nothing set", {}, "SECRET_KEY"),
        ("no key, DEBUG off", {**PRODUCTION, "SECRET_KEY": None}, "SECRET_KEY"),
        ("an empty key", {**PRODUCTION, "SECRET_KEY": " "}, "SECRET_KEY"),
        ("the demo key, DEBUG off", {**PRODUCTION, "SECRET_KEY": DEMO_KEY}, "SECRET_KEY"),
        ("public hosts, no key, DEBUG unset", {**PRODUCTION, "DEBUG": None, "SECRET_KEY": None}, "SECRET_KEY"),
        ("no ALLOWED_HOSTS", {**PRODUCTION, "ALLOWED_HOSTS": None}, "ALLOWED_HOSTS"),
        ("no site URL", {**PRODUCTION, "PETITIONS_SITE_URL": None}, "PETITIONS_SITE_URL"),
        ("a site URL with no scheme", {**PRODUCTION, "PETITIONS_SITE_URL": "example.org"}, "PETITIONS_SITE_URL"),
    ],
)
def test_settings_refuse_to_start_unsafe_and_name_the_variable_to_set(tmp_path, case, env, variable):
    result = import_settings(tmp_path, **env)

    assert result.returncode != 0, f"{case}: started with {result.stdout!r}"
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("django.core.exceptions.ImproperlyConfigured: "), result.stderr
    assert variable in message, message


def test_debug_comes_only_from_the_debug_variable(tmp_path):
    result = import_settings(tmp_path, **{**PRODUCTION, "DEBUG": None})

    assert result.returncode == 0, result.stderr
    assert "DEBUG False" in result.stdout


def test_the_demo_starts_with_debug_alone(tmp_path):
    result = import_settings(tmp_path, DEBUG="1")

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["DEBUG", "True", "SITE_URL", "http://127.0.0.1:8000"]


def test_the_demo_runners_turn_debug_on_themselves():
    # `make demo` on a fresh machine has no environment at all: the runners say DEBUG=1.
    assert re.search(r"^demo migrate: export DEBUG \?= 1$", (ROOT / "Makefile").read_text(), re.M)
    assert 'export DEBUG="${DEBUG:-1}"' in (ROOT / "bin" / "demo").read_text()


def test_production_settings_pass_check_deploy_without_warnings(tmp_path):
    result = run_site(tmp_path, ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **PRODUCTION)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced).", result.stdout + result.stderr


def test_production_settings_send_a_content_security_policy_and_a_referrer_policy(tmp_path):
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SECURE_REFERRER_POLICY); print(' '.join(s.CONTENT_SECURITY_POLICY['DIRECTIVES']['script-src'])); "
        "print('csp.middleware.CSPMiddleware' in s.MIDDLEWARE)"
    )
    result = run_site(tmp_path, ["-c", code], DJANGO_SETTINGS_MODULE="petitions_site.settings", **PRODUCTION)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:3] == ["same-origin", "'self'", "True"]


@pytest.mark.parametrize(
    ("mode", "server_side_cursors_off"),
    [(None, False), ("session", False), ("transaction", True), (" Transaction ", True)],
)
def test_transaction_pooling_turns_server_side_cursors_off(tmp_path, mode, server_side_cursors_off):
    code = (
        "import petitions_site.settings as s; print(s.DATABASES['default'].get('DISABLE_SERVER_SIDE_CURSORS', False))"
    )
    result = run_site(tmp_path, ["-c", code], **PRODUCTION, DATABASE_POOL_MODE=mode)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(server_side_cursors_off)


def test_statement_pooling_is_refused_with_the_variable_named(tmp_path):
    result = import_settings(tmp_path, **PRODUCTION, DATABASE_POOL_MODE="statement")

    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("django.core.exceptions.ImproperlyConfigured: DATABASE_POOL_MODE"), message
