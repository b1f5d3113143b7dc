"""The petitions_cms app of wagtail-petitions: page types, signatures, counting, the JSON API."""

#: Tells this package from other top-level ``cms`` packages (django CMS has one):
#: the petitions.E010 system check (petition_blocks/checks.py) looks for it.
PETITIONS_DISTRIBUTION = "wagtail-petitions"
