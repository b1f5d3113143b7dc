"""Extract the plugin's strings into one catalog per language, then compile them: ``make messages``.

One catalog, ``cms/locale/<lang>/LC_MESSAGES/django.po``, holds every string of the plugin: cms,
petition_blocks, workers and the repo's top-level templates/ folder (which ships as cms/templates).
makemessages puts a file only in a locale folder above it, so it runs inside cms/ with the other
folders linked in for the run, under the names they have in the wheel next to cms/ (templates/
inside it). Existing translations are kept (msgmerge); strings no longer in the code are dropped.
The demo site, tests, bench and the virtualenv are never looked at.

    python bin/messages.py            # every language already in cms/locale, or fr and ar
    python bin/messages.py de es      # add or update these languages only
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CMS = ROOT / "cms"
LOCALE = CMS / "locale"
DEFAULT_LANGUAGES = ["fr", "ar"]
#: Linked into cms/ while makemessages runs: {name inside cms/: folder of the repo}.
LINKED = {"templates": ROOT / "templates", "petition_blocks": ROOT / "petition_blocks", "workers": ROOT / "workers"}
IGNORED = ["migrations/*", "static/*", "__pycache__/*", "*/__pycache__/*"]


def languages(argv) -> list:
    if argv:
        return argv
    found = sorted(path.parent.name for path in LOCALE.glob("*/LC_MESSAGES") if path.is_dir())
    return found or DEFAULT_LANGUAGES


def main(argv) -> int:
    import django
    from django.conf import settings
    from django.core.management import call_command

    # No host settings: their LOCALE_PATHS would claim files, and nothing else is needed here.
    settings.configure(USE_I18N=True, INSTALLED_APPS=[])
    django.setup()
    wanted = languages(argv)
    links = []
    for name, target in LINKED.items():
        link = CMS / name
        if link.exists() or link.is_symlink():
            raise SystemExit(f"{link} is in the way: remove it, or run this from a clean tree.")
        link.symlink_to(os.path.relpath(target, CMS))
        links.append(link)
    cwd = os.getcwd()
    try:
        LOCALE.mkdir(exist_ok=True)
        os.chdir(CMS)
        call_command(
            "makemessages",
            locale=wanted,
            symlinks=True,
            ignore_patterns=IGNORED,
            no_obsolete=True,
            no_wrap=True,
            verbosity=1,
        )
    finally:
        os.chdir(cwd)
        for link in links:
            link.unlink()
    os.chdir(CMS)
    try:
        call_command("compilemessages", locale=wanted, verbosity=1)
    finally:
        os.chdir(cwd)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
