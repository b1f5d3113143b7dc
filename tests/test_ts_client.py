"""The committed TypeScript client (examples/typescript-client) keeps up with the API.

``make ts-client`` dumps the schema to ``openapi.json`` and generates ``schema.d.ts`` and ``app.js``
from it; all three are committed, so the example works without node. The first test needs no node:
it regenerates the schema in-process and compares it with the committed copy, so a change to the
API that was not followed by ``make ts-client`` fails here. The ``node`` tests then check that the
committed types are what the pinned openapi-typescript makes of that copy, that the client and the
front end still type-check against them, and that app.js is the build of app.ts (about 15 s, most
of it ``npm ci`` into a temporary folder; without node they skip, or fail when CI is set).
"""

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CLIENT = ROOT / "examples" / "typescript-client"
REGENERATE = "run `make ts-client` and commit what it changes"

_spec = importlib.util.spec_from_file_location("openapi_dump", ROOT / "bin" / "openapi.py")
openapi_dump = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(openapi_dump)


def test_the_committed_openapi_json_is_the_api_schema():
    committed = (CLIENT / "openapi.json").read_text(encoding="utf-8")
    assert openapi_dump.schema_text() == committed, f"the API changed but its committed schema did not: {REGENERATE}"


def test_the_served_schema_is_the_committed_one(client):
    served = client.get("/api/openapi.json").json()
    assert served == openapi_dump.json.loads((CLIENT / "openapi.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def npm_project(tmp_path_factory):
    """The client's package.json and lock file installed with ``npm ci`` in a folder of this run's own."""
    npm = shutil.which("npm")
    if npm is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but npm is missing: install node 20 and npm to check the TypeScript client")
        pytest.skip("npm is missing: install node 20 and npm to check the TypeScript client")
    project = tmp_path_factory.mktemp("typescript-client")
    for name in ("package.json", "package-lock.json", "tsconfig.json", "openapi.json", "client.ts", "app.ts"):
        shutil.copy(CLIENT / name, project / name)
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=project, check=True, capture_output=True, timeout=300)
    return npm, project


def npm_run(npm_project, script):
    npm, project = npm_project
    return subprocess.run([npm, "run", "--silent", script], cwd=project, capture_output=True, text=True, timeout=120)


@pytest.mark.node
def test_the_committed_types_are_generated_from_the_committed_schema(npm_project):
    _, project = npm_project
    result = npm_run(npm_project, "types")
    assert result.returncode == 0, result.stderr
    generated = (project / "schema.d.ts").read_text(encoding="utf-8")
    assert generated == (CLIENT / "schema.d.ts").read_text(encoding="utf-8"), f"schema.d.ts is stale: {REGENERATE}"


@pytest.mark.node
def test_the_client_and_front_end_type_check_and_app_js_is_their_build(npm_project):
    _, project = npm_project
    shutil.copy(CLIENT / "schema.d.ts", project / "schema.d.ts")
    checked = npm_run(npm_project, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    built = npm_run(npm_project, "build")
    assert built.returncode == 0, built.stderr
    assert (project / "app.js").read_bytes() == (CLIENT / "app.js").read_bytes(), f"app.js is stale: {REGENERATE}"
