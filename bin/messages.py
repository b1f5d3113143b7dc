"""Extract the plugin's strings into one catalog per language, then compile them: ``make messages``.

One catalog, ``cms/locale/<lang>/LC_MESSAGES/django.po``, holds every string of the plugin: cms,
petition_blocks, workers and the repo's top-level templates/ folder (which ships as cms/templates).
makemessages puts a file only in a locale folder above it, so it runs inside cms/ with the other
folders linked in for the run, under the names they have in the wheel next to cms/ (templates/
inside it). Existing translations are kept (msgmerge); strings no longer in the code are dropped.
Translations staged in i18n/staging/*.<lang>.po (work done on a branch, to be merged) fill the
strings the catalog has not translated yet; what the catalog already says wins.
The demo site, tests, bench and the virtualenv are never looked at.

    python bin/messages.py            # every language already in cms/locale, or fr and ar
    python bin/messages.py de es      # add or update these languages only
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CMS = ROOT / "cms"
LOCALE = CMS / "locale"
STAGING = ROOT / "i18n" / "staging"
DEFAULT_LANGUAGES = ["fr", "ar"]
#: Linked into cms/ while makemessages runs: {name inside cms/: folder of the repo}.
LINKED = {"templates": ROOT / "templates", "petition_blocks": ROOT / "petition_blocks", "workers": ROOT / "workers"}
IGNORED = ["migrations/*", "static/*", "__pycache__/*", "*/__pycache__/*"]


def languages(argv) -> list:
    if argv:
        return argv
    found = sorted(path.parent.name for path in LOCALE.glob("*/LC_MESSAGES") if path.is_dir())
    return found or DEFAULT_LANGUAGES


def gettext_tool(*args) -> None:
    subprocess.run(["/usr/bin/env", *args], check=True)  # noqa: S603 (our own arguments, no shell)


def fill_from_staging(language) -> None:
    """Fill the catalog's untranslated strings from the staged catalogs of ``language``.

    The catalog's own translations, then the staged ones, make the translations
    (``msgcat --use-first``); msgmerge then gives them to exactly the catalog's strings.
    """
    catalog = LOCALE / language / "LC_MESSAGES" / "django.po"
    staged = sorted(STAGING.glob(f"*.{language}.po")) if STAGING.is_dir() else []
    if not staged or not catalog.exists():
        return
    # A catalog made by makemessages starts with a fuzzy template header: name the language.
    text = catalog.read_text()
    if '"Language: \\n"' in text:
        text = text.replace('"Language: \\n"', f'"Language: {language}\\n"', 1)
        text = text.replace('#, fuzzy\nmsgid ""\nmsgstr ""\n', 'msgid ""\nmsgstr ""\n', 1)
        catalog.write_text(text)
    with tempfile.TemporaryDirectory() as folder:
        own, known = Path(folder, "own.po"), Path(folder, "known.po")
        gettext_tool("msgattrib", "--translated", "--no-fuzzy", "-o", str(own), str(catalog))
        sources = [str(own)] if own.exists() else []
        gettext_tool("msgcat", "--use-first", "-o", str(known), *sources, *map(str, staged))
        gettext_tool(
            "msgmerge", "--quiet", "--no-fuzzy-matching", "--no-wrap", "-o", str(catalog), str(known), str(catalog)
        )


def main(argv) -> int:
    import django
    from django.conf import settings
    from django.core.management import call_command
    from django.core.management.commands.makemessages import Command as MakeMessages

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
        # No fuzzy matching: a changed string is left untranslated for a person to translate, rather
        # than carrying a neighbour's translation marked fuzzy (which msgfmt then leaves out anyway).
        makemessages = MakeMessages()
        makemessages.msgmerge_options = [*MakeMessages.msgmerge_options, "--no-fuzzy-matching"]
        call_command(
            makemessages,
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
    for language in wanted:
        fill_from_staging(language)
    os.chdir(CMS)
    try:
        call_command("compilemessages", locale=wanted, verbosity=1)
    finally:
        os.chdir(cwd)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
