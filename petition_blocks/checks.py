"""petitions.E010: the import names ``cms`` and ``workers`` must be this plugin's packages.

The plugin's folders are ``cms/``, ``petition_blocks/`` and ``workers/``, so an
installed host gets those top-level import names. django CMS also installs a
top-level ``cms``, and ``workers`` is a common module name: a site module or
another distribution of that name hides ours, and what fails next (a missing
model, another project's AppConfig, tasks that never register) says nothing
about why. This check says why.

It is registered by ``petition_blocks``, the one name unlikely to be taken:
if ``cms`` is someone else's package, our cms app's code never loads.
``cms/__init__.py`` and ``workers/__init__.py`` set :data:`MARKER`; a module
without it is another package, named by its distribution when one is installed.
"""

import importlib
import importlib.metadata
import re

from django.core.checks import Error, Warning, register

DISTRIBUTION = "wagtail-petitions"
#: The attribute our ``cms`` and ``workers`` packages set to DISTRIBUTION.
MARKER = "PETITIONS_DISTRIBUTION"
#: Our top-level packages whose names other code commonly uses.
CHECKED_NAMES = ("cms", "workers")

HINT = (
    "wagtail-petitions installs the top-level packages 'cms', 'petition_blocks' and 'workers'; "
    "another distribution or a module of your own site with one of these names hides ours. "
    "Uninstall or rename the other one (django CMS and wagtail-petitions cannot share one environment)."
)


def _normalize(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def other_distributions(import_name: str) -> list:
    """Installed distributions other than ours that provide the top-level package ``import_name``."""
    providers = importlib.metadata.packages_distributions().get(import_name, [])
    return sorted({name for name in providers if _normalize(name) != DISTRIBUTION})


def _location(module) -> str:
    if getattr(module, "__file__", None):
        return module.__file__
    return ", ".join(getattr(module, "__path__", [])) or "a module with no file"


@register()
def check_import_names(app_configs=None, **kwargs):
    messages = []
    for name in CHECKED_NAMES:
        try:
            module = importlib.import_module(name)
        except ImportError as error:
            message = f"wagtail-petitions' {name!r} package cannot be imported: {error}"
            messages.append(Error(message, hint=HINT, id="petitions.E010"))
            continue
        others = other_distributions(name)
        if getattr(module, MARKER, None) != DISTRIBUTION:
            owner = f"installed by {', '.join(others)}, " if others else ""
            messages.append(
                Error(
                    f"The import name {name!r} is another package ({owner}{_location(module)}), "
                    f"not wagtail-petitions' {name!r}.",
                    hint=HINT,
                    id="petitions.E010",
                )
            )
        elif others:
            messages.append(
                Warning(
                    f"{', '.join(others)} also installs files into the top-level {name!r} package "
                    "that wagtail-petitions installs: the two overwrite each other's files.",
                    hint=HINT,
                    id="petitions.W010",
                )
            )
    return messages
