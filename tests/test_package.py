"""The wheel ships the whole plugin and only the plugin.

Every expectation is derived from the repo tree, so a template, static file,
migration or module added later is covered without touching this file.
"""

import ast
import importlib.metadata
import sys

import pytest

from .packaging import APPS, REPO, build_wheel, normalize, requirement_name, wheel_files, wheel_metadata


@pytest.fixture(scope="session")
def wheel(tmp_path_factory):
    return build_wheel(tmp_path_factory.getbasetemp() / "petitions-wheel")


@pytest.fixture(scope="session")
def files(wheel):
    return wheel_files(wheel)


def repo_files(folder, pattern="*"):
    return sorted(
        path.relative_to(REPO)
        for path in (REPO / folder).rglob(pattern)
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    )


def test_the_wheel_ships_every_template_as_cms_templates(files):
    # The repo keeps them in a top-level templates/ folder; installed, the cms app's
    # templates/ folder is where Django's app-directories loader finds them.
    expected = {f"cms/{path.as_posix()}" for path in repo_files("templates")}
    assert expected
    assert {
        "cms/templates/petitions/pages/petition_page.html",
        "cms/templates/petitions/email/delivery.txt",
    } <= expected
    assert expected - files == set()


def test_the_wheel_ships_every_static_file(files):
    expected = {path.as_posix() for path in repo_files("cms/static")}
    assert "cms/static/petitions/widget.js" in expected
    assert expected - files == set()


def test_the_wheel_ships_the_pdf_fonts_with_their_licence(files):
    expected = {path.as_posix() for path in repo_files("cms/fonts")}
    assert {"cms/fonts/NotoSans-Regular.ttf", "cms/fonts/OFL.txt"} <= expected
    assert expected - files == set()


def test_the_wheel_ships_every_migration(files):
    expected = {path.as_posix() for app in APPS for path in repo_files(app, "migrations/*.py")}
    assert "cms/migrations/0001_initial.py" in expected
    assert expected - files == set()


def test_the_wheel_ships_every_python_package_and_module_of_the_three_apps(files):
    packages = {path.as_posix() for app in APPS for path in repo_files(app, "__init__.py")}
    modules = {path.as_posix() for app in APPS for path in repo_files(app, "*.py")}
    assert {"cms/api/__init__.py", "cms/models/__init__.py", "workers/__init__.py"} <= packages
    assert packages - files == set()
    assert modules - files == set()


def test_the_wheel_leaves_out_the_demo_site_tests_and_tooling(files):
    top_levels = {name.split("/", 1)[0] for name in files}
    assert {name for name in top_levels if not name.endswith(".dist-info")} == set(APPS)
    assert not [
        name for name in files if name.startswith(("petitions_site/", "tests/", "bench/", "bin/", "templates/"))
    ]
    assert not [name for name in files if "__pycache__" in name or name.endswith(".pyc")]


def test_the_wheel_carries_the_bsd_licence(wheel, files):
    metadata = wheel_metadata(wheel)
    assert metadata["License-Expression"] == "BSD-3-Clause"
    assert [name for name in files if name.endswith(".dist-info/licenses/LICENSE")]


def third_party_imports():
    """Top-level names of every module the plugin's code imports (migrations included)."""
    names = set()
    for app in APPS:
        for path in repo_files(app, "*.py"):
            for node in ast.walk(ast.parse((REPO / path).read_text(), filename=str(path))):
                if isinstance(node, ast.Import):
                    names.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - set(APPS)


def test_the_wheel_declares_every_third_party_package_the_plugin_imports_with_a_version_range(wheel):
    requirements = wheel_metadata(wheel).get_all("Requires-Dist")
    declared = {requirement_name(requirement) for requirement in requirements}
    providers = importlib.metadata.packages_distributions()
    imported = third_party_imports()
    assert {"django", "wagtail", "celery", "anymail", "django_countries", "ninja", "pydantic"} <= imported
    undeclared = {
        name: providers.get(name)
        for name in imported
        if not {normalize(distribution) for distribution in providers.get(name, [])} & declared
    }
    assert undeclared == {}
    # Not imported by name: Django's RedisCache, which holds the live counts, needs it.
    assert "redis" in declared
    assert [requirement for requirement in requirements if ">=" not in requirement] == []
