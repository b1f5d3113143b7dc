"""The JSON API's URLs: ``path("api/", api_urls)`` in ``cms.urls``."""

from . import leads, osdi, public  # noqa: F401 (their operations register on base.router)
from .base import api, router

api.add_router("/", router)
api.add_router("/osdi/v1/", osdi.router)

#: (patterns, app name, namespace) for ``path("api/", …)``.
api_urls = api.urls
