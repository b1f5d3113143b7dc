"""The demo's content: the reference petition rebuilt from blocks, and a second campaign."""

import json
from datetime import timedelta

from django.utils import timezone
from django.utils.html import escape

from petitions_site import demo_translations

REFERENCE_TITLE = "Secretary Blinken: No more weapons to Israel!"
REFERENCE_SLUG = "no-more-weapons"

CAMPAIGN_TEXT = [
    "Beginning on July 3, Palestinians in Jenin refugee camp were the targets of a deadly two-day raid by "
    "the Israeli military. The military terrorized the refugee camp from the ground and air, leaving "
    "Palestinians completely vulnerable during the invasion. The Israeli Occupation Forces (IOF) claimed this "
    "attack was a military operation--targeting resistance fighters--but civilians are among the 12 who were "
    "murdered, including four children.",
    "The assault on Jenin was carried out using weapons purchased through US arms deals, specifically the "
    "Apache helicopter, made by Boeing which was also used to attack Jenin during the second intifada. "
    "Biden’s Conventional Arms Transfer (CAT) policy states that the US shall not authorize arms transfers if "
    "it is assessed that the recipient is more likely than not to use the arms to commit “grave breaches of "
    "the Geneva Conventions of 1949…including serious acts of violence against children.” Even though Israel "
    "continues to kill Palestinians with U.S. weapons, these arms deals are still being authorized when they "
    "are in clear violation of the CAT policy and international law. Join us in demanding Blinkin bar future "
    "arm sales to Israel by adding your name below!",
]

LETTER_TEXT = [
    "Over 130 Palestinians, including 35 children, have been murdered by the Israeli military so far in 2023. "
    "Unfortunately, we know there will be more because the US continues to enable this violence by arming "
    "Israel.",
    "Just last week, we witnessed a spark in this violence as the Israeli military launched an attack on Jenin "
    "during a two-day invasion. The assault left 12 Palestinians dead, including four children, and over 50 "
    "wounded. This was made possible by weapons purchased through US arms deals, specifically the Apache "
    "helicopter which was also used to terrorize Jenin during the second intifada in 2002. The aircraft, made "
    "by Boeing, was used to aid in the murder of children-a violation of the Geneva Conventions of 1949.",
    "According to President Biden’s Conventional Arms Transfer (CAT) policy, arms deals to Israel should not "
    "be authorized since Israel has proved time and time again that they will be used to violate international "
    "law and commit crimes against humanity. The Israeli government admitted to targeting the children of "
    "Jenin, and the US is facilitating this war crime as long as it refuses to ban future arms sales to the "
    "apartheid state.",
    "The people of Jenin are refugees in their own country and have been the targets of Israeli violence since "
    "being exiled from their homes in 1948. The Israeli government and military have no reason to attack this "
    "already vulnerable group of people other than to advance their ethnic cleansing project by killing them or "
    "forcing them to leave. The US must do all everything in its power to stop this, and that starts by "
    "complying with its own CAT policy which would prevent future arms sales to Israel.",
    "We, the undersigned, ask that you bar future arms deals with Israel in order to prevent them from "
    "continuing to target children and violating international law.",
]

# (first name, hours ago): the reference page's "Who's signing" feed.
FEED_SIGNERS = [
    ("Stefanie", 4),
    ("Alexistori", 2 * 24),
    ("Alicia", 20 * 24),
    ("Katherine", 34 * 24),
    ("Bosko", 50 * 24),
    ("Jenny", 50 * 24 + 2),
    ("Leann", 51 * 24),
    ("Amexis", 54 * 24),
    ("Jennifer", 57 * 24),
    ("Pat", 57 * 24 + 3),
    ("Daquito", 58 * 24),
    ("Alexa", 58 * 24 + 1),
    ("Greta", 58 * 24 + 2),
    ("Opiriqure", 59 * 24),
    ("Brenda", 60 * 24),
    ("Aimee", 61 * 24),
    ("Lamia", 67 * 24),
    ("Craig", 68 * 24),
    ("Jeff", 70 * 24),
    ("bob", 72 * 24),
    ("Misao", 72 * 24 + 1),
    ("Ahmad", 73 * 24),
    ("David", 73 * 24 + 1),
    ("David", 73 * 24 + 2),
    ("Christopher", 74 * 24),
    ("Natasa", 74 * 24 + 1),
    ("Nancy", 74 * 24 + 2),
    ("Cora", 75 * 24),
    ("Leuise", 75 * 24 + 1),
    ("Amy", 75 * 24 + 2),
]
# Earlier signers who did not ask to be shown in the feed.
QUIET_SIGNERS = 1218
QUIET_NAMES = ["Sam", "Maria", "Omar", "Lena", "Tom", "Priya", "Jon", "Aisha", "Luca", "Noor", "Ruth", "Karim"]
COUNTRIES = ["US", "US", "US", "US", "GB", "CA", "IE", "DE", "FR", "AU"]


def paragraphs(texts):
    return "".join(f"<p>{escape(text)}</p>" for text in texts)


def reference_body(official):
    return [
        {"type": "text", "value": paragraphs(CAMPAIGN_TEXT)},
        {
            "type": "letter",
            "value": {
                "greeting": "Dear",
                "officials": [official.pk],
                "body": paragraphs(LETTER_TEXT),
                "sign_off": "Sincerely,",
                "signatories": "The undersigned",
            },
        },
        {
            "type": "sign_form",
            "value": {"heading": "Will you sign?", "text": "", "button_label": "Add my name"},
        },
        {"type": "counter", "value": {"label": "people already signed", "goal": None, "show_progress": True}},
        {"type": "signer_feed", "value": {"heading": "Who's signing", "size": 30}},
        {
            "type": "share_links",
            "value": {
                "heading": "Share",
                "message": REFERENCE_TITLE,
                "networks": ["email", "x", "facebook", "whatsapp"],
            },
        },
        {"type": "updates", "value": {"heading": "Updates", "show_deliveries": True, "show_responses": True}},
    ]


def cycle_lanes_body(official):
    return [
        {
            "type": "text",
            "value": paragraphs(
                [
                    "Riverside Road carries 3,000 cyclists a day on painted lines between parked cars and buses. "
                    "Two people were seriously hurt there this year.",
                    "The council has the money in its transport budget. Ask the Cabinet Member to build a protected "
                    "lane before the next school year.",
                ]
            ),
        },
        {"type": "counter", "value": {"label": "neighbours have signed", "goal": None, "show_progress": True}},
        {
            "type": "sign_form",
            "value": {"heading": "Add your name", "text": "", "button_label": "Sign for safe lanes"},
        },
        {
            "type": "letter",
            "value": {
                "greeting": "Dear",
                "officials": [official.pk],
                "body": paragraphs(
                    [
                        "We, residents and people who cycle along Riverside Road, ask you to fund and build a "
                        "kerb-protected cycle lane along its full length before September.",
                    ]
                ),
                "sign_off": "Yours sincerely,",
                "signatories": "Riverside neighbours",
            },
        },
        {"type": "signer_feed", "value": {"heading": "Recent signers", "size": 5}},
        {
            "type": "share_links",
            "value": {"heading": "Tell your neighbours", "message": "", "networks": ["email", "whatsapp"]},
        },
    ]


def add_signers(petition, signers, now, *, show_in_feed=True, email_prefix="signer"):
    from cms.models import Signature, normalize_email

    rows = []
    for i, (name, hours) in enumerate(signers):
        email = f"{email_prefix}{i}@example.org"
        at = now - timedelta(hours=hours)
        rows.append(
            Signature(
                petition_id=petition.pk,
                first_name=name,
                email=email,
                email_normalized=normalize_email(email),
                country=COUNTRIES[i % len(COUNTRIES)],
                status=Signature.Status.VERIFIED,
                show_in_feed=show_in_feed,
                share_with_officials=i % 3 != 0,
                opt_in_updates=i % 4 == 0,
                created_at=at - timedelta(minutes=3),
                verified_at=at,
                email_requested_at=at - timedelta(minutes=3),
                email_sent_at=at - timedelta(minutes=2),
                email_status=Signature.EmailStatus.SENT,
            )
        )
    Signature.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)


def demo_logo():
    """A simple logo drawn with Pillow (a ring and a tick on the accent colour), as a Wagtail image."""
    import io

    from django.core.files.images import ImageFile
    from PIL import Image, ImageDraw
    from wagtail.images import get_image_model
    from wagtail.models import Collection

    picture = Image.new("RGB", (320, 96), "#ffffff")
    draw = ImageDraw.Draw(picture)
    draw.rounded_rectangle((0, 0, 319, 95), radius=18, fill=DEMO_ACCENT)
    draw.ellipse((18, 14, 86, 82), outline="#ffffff", width=8)
    draw.line((36, 50, 48, 62, 70, 34), fill="#ffffff", width=8)
    draw.rectangle((104, 30, 300, 42), fill="#ffffff")
    draw.rectangle((104, 54, 250, 66), fill="#ffffff")
    data = io.BytesIO()
    picture.save(data, "PNG")
    return get_image_model().objects.create(
        title="Petitions demo logo",
        collection=Collection.get_first_root_node(),
        file=ImageFile(io.BytesIO(data.getvalue()), name="petitions-demo-logo.png"),
    )


#: The reference campaign's accent: dark enough for white text (contrast 4.5:1 or more, cms.identity).
DEMO_ACCENT = "#1a5fb4"


def add_identity(index):
    """Give the reference campaign its identity (sender, logo, accent colour) once."""
    from cms.identity import sender_domains

    if index.sender_name:
        return
    domain = (sender_domains() or ["example.org"])[0]  # a domain the site may send from
    index.sender_name = "Petitions demo campaign"
    index.from_email = f"campaigns@{domain}"
    index.reply_to_email = f"team@{domain}"
    index.accent_colour = DEMO_ACCENT
    index.logo = demo_logo()
    index.save_revision().publish()


def add_paper_batch(lead, now):
    """The reference petition's paper signatures (README "Paper signatures"): one batch, entered by the lead."""
    from cms import offline
    from cms.models import OfflineSignatureBatch, PetitionPage

    reference = PetitionPage.objects.filter(slug=REFERENCE_SLUG).order_by("pk").first()
    if reference is None or OfflineSignatureBatch.objects.filter(petition_id=reference.pk).exists():
        return
    offline.add_batch(
        reference,
        count=340,
        collected_at=timezone.localdate(now) - timedelta(days=10),
        collected_where="Town hall meeting, Washington DC",
        note="Signed sheets from the town hall table; counted twice by two volunteers.",
        entered_by=lead,
    )


def load(stdout=None):
    """Create the demo site once; later calls leave existing content alone."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from wagtail.models import Page, Site

    from cms.models import CampaignGrant, CampaignIndexPage, Official, PetitionPage
    from cms.reconcile import reconcile_counts

    now = timezone.now()
    index = CampaignIndexPage.objects.order_by("path").first()
    if index is None:
        root = Page.get_first_root_node()
        index = CampaignIndexPage(
            title="Campaigns",
            slug="campaigns",
            intro="<p>Open letters you can sign. Every signature is confirmed by email before it counts.</p>",
        )
        root.add_child(instance=index)
        index.save_revision().publish()
        Site.objects.all().delete()
        Site.objects.create(
            hostname="127.0.0.1", port=8000, root_page=index, is_default_site=True, site_name="Petitions demo"
        )
        # Wagtail's welcome page is no longer reachable; drop it.
        Page.objects.filter(depth=2).exclude(pk=index.pk).delete()

    add_identity(index)

    if not PetitionPage.objects.filter(slug=REFERENCE_SLUG).exists():
        blinken, _ = Official.objects.get_or_create(
            name="Antony Blinken",
            defaults={
                "title": "Secretary",
                "organisation": "U.S. Department of State",
                "email": "secretary@state.example.gov",
                "region": "US",
            },
        )
        reference = PetitionPage(
            title=REFERENCE_TITLE,
            slug=REFERENCE_SLUG,
            intro="Demand Secretary Blinken bar future arms sales to Israel.",
            goal=2000,
            body=json.dumps(reference_body(blinken)),
        )
        index.add_child(instance=reference)
        reference.save_revision().publish()
        add_signers(reference, FEED_SIGNERS, now)
        quiet = [(QUIET_NAMES[i % len(QUIET_NAMES)], 76 * 24 + i) for i in range(QUIET_SIGNERS)]
        add_signers(reference, quiet, now, show_in_feed=False, email_prefix="earlier")

        councillor, _ = Official.objects.get_or_create(
            name="Jo Marsh",
            defaults={
                "title": "Councillor",
                "organisation": "Riverside City Council, Cabinet Member for Transport",
                "email": "jo.marsh@council.example.org",
                "region": "Riverside",
            },
        )
        # A second campaign with its own lead: Riverside's lead sees only Riverside's signers.
        riverside = CampaignIndexPage(
            title="Riverside campaigns",
            slug="riverside",
            intro="<p>Local campaigns in Riverside.</p>",
        )
        index.add_child(instance=riverside)
        riverside.save_revision().publish()
        lanes = PetitionPage(
            title="Protected cycle lanes on Riverside Road before September",
            slug="riverside-cycle-lanes",
            intro="Ask the council to build a kerb-protected lane on Riverside Road.",
            goal=500,
            closes_at=now + timedelta(days=45),
            ask_postcode=True,
            body=json.dumps(cycle_lanes_body(councillor)),
        )
        riverside.add_child(instance=lanes)
        lanes.save_revision().publish()
        add_signers(lanes, [("Hannah", 1), ("Viktor", 5), ("Femi", 26), ("Grace", 50)], now, email_prefix="lanes")

    # The reference petition in Arabic and French: Wagtail translations, counted on the English page.
    demo_translations.add_translations(PetitionPage.objects.filter(slug=REFERENCE_SLUG).order_by("pk").first())

    User = get_user_model()
    password = "petitions-demo"
    if not User.objects.filter(username="admin").exists():
        User.objects.create_superuser("admin", "admin@example.org", password)
    lead_password = "petitions-lead"
    leads = (
        # The site's lead is granted the whole "Campaigns" tree, Riverside included;
        # Riverside's lead only the Riverside campaign (a 404 for every other petition).
        ("lead", "Campaign", index),
        ("riverside-lead", "Riverside", CampaignIndexPage.objects.filter(slug="riverside").first() or index),
    )
    for username, first_name, campaign in leads:
        if not User.objects.filter(username=username).exists():
            lead = User.objects.create_user(
                username, f"{username}@example.org", lead_password, first_name=first_name, last_name="Lead"
            )
            lead.groups.add(Group.objects.get(name="Campaign leads"))
            CampaignGrant.objects.get_or_create(user=lead, campaign=campaign)
    add_paper_batch(User.objects.filter(username="lead").first(), now)
    reconcile_counts()
    return {
        "username": "admin",
        "password": password,
        "lead_username": "lead",
        "local_lead_username": "riverside-lead",
        "lead_password": lead_password,
        "url": "http://127.0.0.1:8000/admin/",
    }
