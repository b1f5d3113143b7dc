#!/usr/bin/env python3
"""Write the JSON API's OpenAPI schema to a file, without a server: ``make ts-client`` runs it.

    python bin/openapi.py [OUTPUT]     # default: examples/typescript-client/openapi.json

The schema comes from the ninja api object (``cms.api.base.api``), as /api/openapi.json serves
it, in English and with sorted keys and a final newline, so that the committed copy changes only
when the API does (tests/test_ts_client.py compares it with the code's). Django is set up with
the test settings (the schema is the plugin's, whatever the host) unless DJANGO_SETTINGS_MODULE
names others; no database or Redis is touched.
"""

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "examples" / "typescript-client" / "openapi.json"


def schema_text() -> str:
    """The schema as the committed file holds it (Django must be set up)."""
    from django.utils import translation
    from ninja.responses import NinjaJSONEncoder

    from cms.api.urls import api

    with translation.override("en"):
        # Through JSON once, as the served schema is: status codes become strings, lazy texts words.
        schema = json.loads(json.dumps(api.get_openapi_schema(), cls=NinjaJSONEncoder))
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    output = Path(argv[0]) if argv else DEFAULT_OUTPUT
    text = schema_text()
    output.write_text(text, encoding="utf-8")
    print(f"{output}: {len(text.encode())} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
