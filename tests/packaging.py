"""Build the plugin's wheel once per test run, from a clean copy of the repo.

pip builds a local directory in place, and setuptools' ``build/`` folder keeps
files deleted since the last build: a clean copy makes the wheel show exactly
what the repo would ship. The whole tree is copied (the demo site, tests and
bench included) so that leaving them out is the package's doing.
"""

import email.parser
import functools
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
APPS = ("cms", "petition_blocks", "workers")
# Local state and build output at the top of a checkout; never part of the source.
NOT_SOURCE = {
    ".git",
    ".venv",
    "var",
    "static",
    "media",
    "build",
    "dist",
    ".pytest_cache",
    ".ruff_cache",
    "test-results",
}


def _not_source(directory, names):
    skipped = {name for name in names if name == "__pycache__" or name.endswith((".pyc", ".egg-info"))}
    if Path(directory) == REPO:
        skipped |= NOT_SOURCE & set(names)
    return skipped


@functools.cache
def build_wheel(workdir: Path) -> Path:
    """``pip wheel --no-deps`` of a copy of the repo; the path of the wheel."""
    source, out = workdir / "source", workdir / "dist"
    shutil.copytree(REPO, source, ignore=_not_source)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"pip wheel failed:\n{result.stdout}\n{result.stderr}"
    (wheel,) = out.glob("wagtail_petitions-*.whl")
    return wheel


def wheel_files(wheel: Path) -> set:
    with zipfile.ZipFile(wheel) as archive:
        return {name for name in archive.namelist() if not name.endswith("/")}


def wheel_metadata(wheel: Path):
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [name for name in archive.namelist() if name.endswith(".dist-info/METADATA")]
        return email.parser.Parser().parsestr(archive.read(name).decode())


def normalize(distribution: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", distribution).lower()


def requirement_name(requirement: str) -> str:
    return normalize(re.match(r"[A-Za-z0-9._-]+", requirement).group())
