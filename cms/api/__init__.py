"""The headless side of the plugin: a JSON API with an OpenAPI schema, and OSDI resources.

- ``base``: the NinjaAPI mounted at ``/api/``, its error answers and shared helpers;
- ``public``: petitions, count, sign, confirm; ``leads``: the export and delivery status (a token);
- ``osdi``: the same data in the Open Supporter Data Interface shape, at ``/api/osdi/v1/``;
- ``schemas``: request and answer shapes; ``cors``: the origin allow-list; ``auth``: leads' tokens;
- ``urls``: puts them together (``cms.urls`` includes it).

Petition pages themselves, blocks included, come through Wagtail's own API
(``wagtail.api.v3``); ``petition_blocks`` gives each block its JSON form.
"""
