from django.db import models
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel
from wagtail.search import index


class Official(index.Indexed, models.Model):
    """Someone a petition's letter addresses; shared by many petitions (a snippet)."""

    name = models.CharField(max_length=200, verbose_name=_("name"))
    title = models.CharField(
        max_length=200, blank=True, help_text=_("e.g. Secretary of State"), verbose_name=_("title")
    )
    organisation = models.CharField(
        max_length=200, blank=True, help_text=_("Office or organisation"), verbose_name=_("organisation")
    )
    email = models.EmailField(
        blank=True, help_text=_("Where deliveries of the letter are sent"), verbose_name=_("email")
    )
    other_emails = models.TextField(
        blank=True, help_text=_("More addresses that receive deliveries, one per line."), verbose_name=_("other emails")
    )
    region = models.CharField(max_length=100, blank=True, verbose_name=_("region"))

    panels = [
        FieldPanel("name"),
        FieldPanel("title"),
        FieldPanel("organisation"),
        FieldPanel("email"),
        FieldPanel("other_emails"),
        FieldPanel("region"),
    ]
    search_fields = [index.SearchField("name"), index.SearchField("organisation")]

    class Meta:
        ordering = ["name"]
        verbose_name = _("official")

    def __str__(self):
        return f"{self.title} {self.name}".strip() if self.title else self.name

    @property
    def delivery_emails(self):
        extra = [line.strip() for line in self.other_emails.splitlines() if line.strip()]
        return [address for address in [self.email, *extra] if address]

    @property
    def salutation_name(self):
        """How a letter greets them: "Secretary Blinken" rather than a full name."""
        surname = self.name.split()[-1] if self.name else ""
        return f"{self.title} {surname}".strip()
