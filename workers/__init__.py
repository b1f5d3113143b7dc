"""The petitions_workers app of wagtail-petitions: Celery tasks and their beat schedule."""

#: Tells this package from other top-level ``workers`` modules (a common name):
#: the petitions.E010 system check (petition_blocks/checks.py) looks for it.
PETITIONS_DISTRIBUTION = "wagtail-petitions"
