"""A Wagtail site nobody here wrote installs the plugin by the README and takes a signature.

The slow test builds the wheel, makes a fresh virtualenv, and applies the code
blocks of the README's "Install into your Wagtail site" section, as written, to
a site made by ``wagtail start``: the first block installs the wheel with its
declared dependencies only (not our requirements.txt), which brings Wagtail and
its ``wagtail start``. Each block's first line says where it goes and how
(``# mysite/settings/base.py — add at the end``, ``— new file``, ``# shell —
run ...``, ``# shell — keep running ...``); ``mysite`` becomes the generated
site's name. Then tests/host_journey.py walks a signer through the site inside
that virtualenv and prints each step.

The harness adds one settings module of its own, not a README step: email to
Django's locmem outbox, Celery tasks run eagerly with an in-memory broker, no
reconcile lag and no per-process memo (the journey reads counts milliseconds
apart in one process), and a cache KEY_PREFIX of this run, under which the
plugin's store keeps every key. The site's database is its own SQLite file in a
temp dir; its Redis is this test run's REDIS_URL.
"""

import os
import re
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings

from cms.conf import DEFAULTS

from .packaging import REPO, build_wheel

SITE_NAME = "campaignsite"
PLACEHOLDER = "mysite"
PACKAGE_PLACEHOLDER = "/path/to/wagtail-petitions"
SECTION = "## Install into your Wagtail site"
HEADER = re.compile(r"^(?:#|\{#)\s*(?P<target>\S+) — (?P<how>.+?)\s*(?:#\})?$")
# The outer run's settings must not leak into the host's processes.
NOT_INHERITED = ("DJANGO_SETTINGS_MODULE", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "DATABASE_URL", "REDIS_URL")
NOT_INHERITED_PREFIXES = ("CELERY_", "PETITIONS_", "TEST_DATABASE", "DB_CONN")


@dataclass
class Block:
    language: str
    target: str
    how: str
    text: str

    @property
    def action(self):
        if self.target == "shell":
            for action in ("keep running", "run"):
                if self.how.startswith(action):
                    return action
            return None
        if self.how.startswith("add at the end"):
            return "append"
        if self.how.startswith("new file"):
            return "create"
        return None

    def commands(self):
        return [line for line in self.text.splitlines()[1:] if line.strip() and not line.startswith("#")]


def install_blocks():
    readme = (REPO / "README.md").read_text()
    start = readme.index(SECTION)
    end = readme.find("\n## ", start + len(SECTION))
    section = readme[start : end if end != -1 else None]
    blocks = []
    for language, text in re.findall(r"^```(\S*)\n(.*?)^```$", section, flags=re.MULTILINE | re.DOTALL):
        match = HEADER.match(text.splitlines()[0])
        assert match, f"a README install block does not say where it goes and how:\n{text}"
        blocks.append(Block(language, match["target"], match["how"], text))
    return blocks


def test_every_readme_install_step_says_where_it_goes_and_how():
    blocks = install_blocks()
    assert [block for block in blocks if block.action is None] == []
    assert blocks[0].action == "run" and blocks[0].commands() == [f"pip install {PACKAGE_PLACEHOLDER}"]
    targets = {block.target for block in blocks}
    assert {"mysite/settings/base.py", "mysite/urls.py", "mysite/celery.py", "mysite/__init__.py"} <= targets
    assert [block.commands() for block in blocks if block.action == "keep running"] == [
        ["celery -A mysite worker --loglevel=INFO", "celery -A mysite beat --loglevel=INFO"]
    ]


def test_the_readme_shows_the_petitions_settings_at_their_defaults():
    (block,) = [block for block in install_blocks() if "PETITIONS = {" in block.text]
    namespace = {}
    exec(block.text, namespace)
    shown = namespace["PETITIONS"]
    assert {"CACHE_ALIAS", "SITE_URL", "RATE_LIMIT", "RECONCILE_LAG"} <= set(shown)
    assert shown == {key: DEFAULTS[key] for key in shown}


def host_env(venv: Path) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in NOT_INHERITED and not key.startswith(NOT_INHERITED_PREFIXES)
    }
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}",
        VIRTUAL_ENV=str(venv),
        REDIS_URL=settings.REDIS_URL,
        DJANGO_SETTINGS_MODULE=f"{SITE_NAME}.settings.journey",
    )
    return env


def run(command, *, cwd, env, timeout=900):
    """Run a command (a shell line, as a person types it) in the host; its output."""
    result = subprocess.run(
        command, shell=isinstance(command, str), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"{command} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


HARNESS_SETTINGS = '''"""The journey's harness, not a README step: one process, Django's test client."""

from .dev import *  # noqa: F403

EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"  # django.core.mail.outbox
CELERY_TASK_ALWAYS_EAGER = True  # tasks run in the calling process, at once
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = "memory://"  # nothing shared with other runs
CACHES["default"]["KEY_PREFIX"] = "{key_prefix}"  # noqa: F405  (this run's keys only)
# Verified a moment ago and counted now; read counts milliseconds apart.
PETITIONS = {{**PETITIONS, "RECONCILE_LAG": 0, "LOCAL_CACHE_SECONDS": 0}}  # noqa: F405
'''


@pytest.mark.services
@pytest.mark.timeout(1800)
def test_a_fresh_wagtail_site_installs_the_wheel_by_the_readme_and_a_signer_is_counted(tmp_path_factory):
    wheel = build_wheel(tmp_path_factory.getbasetemp() / "petitions-wheel")
    work = tmp_path_factory.mktemp("host")
    venv, site = work / "venv", work / SITE_NAME
    site.mkdir()
    run([sys.executable, "-m", "venv", str(venv)], cwd=work, env=None)
    env = host_env(venv)
    blocks = install_blocks()
    log = []

    def apply(block):
        text = block.text.replace(PLACEHOLDER, SITE_NAME)
        target = block.target.replace(PLACEHOLDER, SITE_NAME)
        if block.action == "run":
            for command in block.commands():
                command = command.replace(PLACEHOLDER, SITE_NAME).replace(PACKAGE_PLACEHOLDER, str(wheel))
                output = run(command, cwd=site, env=env)
                last = [line for line in output.splitlines() if line.strip() and "is ignored" not in line][-1:]
                log.append(f"$ {command}\n    {last[0][:160] if last else '(no output)'}")
        elif block.action == "keep running":
            # A worker and beat would run for ever: check that each command loads the site's Celery app.
            for command in block.commands():
                command = command.replace(PLACEHOLDER, SITE_NAME)
                run(f"{command} --help", cwd=site, env=env)
                log.append(f"$ {command} --help\n    (the command and its app {SITE_NAME} load)")
        else:
            path = site / target
            if block.action == "create":
                assert not path.exists(), f"{target} exists already"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text + "\n")
            else:
                assert path.exists(), f"{target} does not exist"
                path.write_text(path.read_text().rstrip("\n") + "\n\n" + text + "\n")
            log.append(f"{target} — {block.how}")

    apply(blocks[0])  # pip install the wheel (with its dependencies), which brings `wagtail start`
    run(["wagtail", "start", SITE_NAME, str(site)], cwd=work, env=env)
    log.append(f"$ wagtail start {SITE_NAME} {site}")
    harness = HARNESS_SETTINGS.format(key_prefix=f"journey-{uuid.uuid4().hex}")
    (site / SITE_NAME / "settings" / "journey.py").write_text(harness)
    for block in blocks[1:]:
        apply(block)

    shutil.copy(Path(__file__).with_name("host_journey.py"), site / "journey.py")
    journey = run([str(venv / "bin" / "python"), "journey.py"], cwd=site, env=env, timeout=300)
    print("\n".join(["", "README steps applied:", *log, "", "journey:", journey]))
    assert journey.rstrip().endswith("journey complete"), journey
