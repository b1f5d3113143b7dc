"""The JSON API's URLs: ``path("api/", api_urls)`` in ``cms.urls``."""

from .endpoints import api
from .osdi import router as osdi_router

api.add_router("/osdi/v1/", osdi_router)

#: (patterns, app name, namespace) for ``path("api/", …)``.
api_urls = api.urls
