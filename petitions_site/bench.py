"""The benchmark's baseline: the cheapest Django view, served by the same server.

Routed at /bench/bare/ only when PETITIONS_BENCH=1 (see bench/README.md).
"""

from django.http import HttpResponse


def bare(request):
    return HttpResponse("ok")
