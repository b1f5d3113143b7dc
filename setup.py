"""Which packages the wheel holds; everything else is in pyproject.toml.

Found automatically: the three apps with every subpackage and data folder
(``find_namespace_packages``, so ``cms/static/petitions/`` ships as package
data without setuptools' warnings), and the repo's top-level ``templates/``
folder, shipped as ``cms/templates/`` where Django's app-directories loader
finds the ``petitions/...`` templates in an installed host. pyproject.toml
cannot combine found packages with a mapped folder, hence this file.
"""

from setuptools import find_namespace_packages, setup

APPS = ("cms", "petition_blocks", "workers")
NOT_PACKAGES = ["*__pycache__", "*.__pycache__"]

app_packages = find_namespace_packages(
    include=[name for app in APPS for name in (app, f"{app}.*")],
    exclude=["petitions_site*", "tests*", "bench*", "bin*", *NOT_PACKAGES],
)
template_packages = [
    "cms.templates",
    *(f"cms.templates.{name}" for name in find_namespace_packages(where="templates", exclude=NOT_PACKAGES)),
]

setup(packages=app_packages + template_packages, package_dir={"cms.templates": "templates"})
