"""petitions.E010: a host whose 'cms' or 'workers' is another package is told so at once."""

import sys
import types

import pytest
from django.core import checks
from django.core.management import call_command

from petition_blocks.checks import check_import_names


@pytest.fixture
def other_cms(tmp_path, monkeypatch):
    """An installed distribution 'django-cms' whose top-level 'cms' comes first on sys.path."""
    package = tmp_path / "cms"
    package.mkdir()
    (package / "__init__.py").write_text('"""Another project\'s cms."""\n')
    dist_info = tmp_path / "django_cms-5.0.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: django-cms\nVersion: 5.0.0\n")
    (dist_info / "top_level.txt").write_text("cms\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return package


def test_our_own_cms_and_workers_pass():
    assert check_import_names() == []


def test_the_check_is_registered_and_runs_with_manage_py_check():
    assert check_import_names in checks.registry.registry.get_checks()
    call_command("check")


def test_a_workers_module_of_the_hosts_own_is_an_error_naming_it(monkeypatch):
    theirs = types.ModuleType("workers")
    theirs.__file__ = "/srv/mysite/workers.py"
    monkeypatch.setitem(sys.modules, "workers", theirs)

    (error,) = check_import_names()

    assert error.id == "petitions.E010"
    assert error.level == checks.ERROR
    assert "'workers' is another package (/srv/mysite/workers.py)" in error.msg
    assert "Uninstall or rename" in error.hint


def test_django_cms_installed_instead_of_ours_is_an_error_naming_its_distribution(other_cms, monkeypatch):
    monkeypatch.delitem(sys.modules, "cms")  # as if ours had never been imported: theirs comes first

    (error,) = check_import_names()

    assert error.id == "petitions.E010"
    assert f"'cms' is another package (installed by django-cms, {other_cms / '__init__.py'})" in error.msg
    assert "django CMS and wagtail-petitions cannot share one environment" in error.hint


def test_another_distribution_writing_into_our_cms_package_is_a_warning(other_cms):
    # Our cms is the one imported, but django-cms claims the same folder: they overwrite each other.
    (warning,) = check_import_names()

    assert warning.id == "petitions.W010"
    assert warning.level == checks.WARNING
    assert warning.msg.startswith("django-cms also installs files into the top-level 'cms' package")
