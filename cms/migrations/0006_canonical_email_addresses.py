"""Give every stored signature the canonical form of its address; one inbox keeps one signature.

Before this, ``email_normalized`` folded case and whitespace only, so one inbox could sign a
petition several times (``ada@``, ``a.da@`` and ``ada+1@gmail.com``). This rewrites the column with
``cms.addresses.normalize_email`` (with the site's ``PETITIONS["EMAIL_PROVIDERS"]``) and, where
rows of one petition now share a canonical form:

* keeps the earliest verified row (else the earliest created) with the canonical form;
* marks the others ``invalidated`` (a row already ``fraudulent`` or ``invalidated`` keeps its
  status), never deletes them, and keeps the address as typed in ``email``;
* gives the others ``<canonical>#dup<pk>`` instead (cut to fit 254 characters): a domain has no
  "#", so that value is no address's canonical form, and the pk makes it unique. The constraint on
  (petition, email_normalized) holds at every step, and the inbox signing again finds the kept row.

Counting: the reconcile counts rows verified after its watermark, so a row invalidated here that
was verified after it is never counted. One counted before stays in the stored total until the
next ``full_recount`` (daily; or run the ``petitions.full_recount`` task after migrating), which
counts the verified rows again and corrects the total, the country tallies and the live count.

A site with its own signature model (``PETITIONS["SIGNATURE_MODEL"]``) runs the same function from
a migration of its app: ``import_module("cms.migrations.0006_canonical_email_addresses")
.backfill_email_normalized(apps.get_model("members", "MemberSignature"))``. Running it again
changes nothing.
"""

from collections import defaultdict

from django.db import migrations

from cms.addresses import MAX_LENGTH, normalize_email

# The statuses as this migration knows them, whatever the model's choices become.
VERIFIED, PENDING, INVALIDATED = "verified", "pending", "invalidated"
BATCH = 1000
FIELDS = ("pk", "petition_id", "email_normalized", "status", "verified_at", "created_at")


def duplicate_value(canonical, pk):
    """What a collapsed row holds instead of the canonical form it shares with the kept row."""
    suffix = f"#dup{pk}"
    return canonical[: MAX_LENGTH - len(suffix)] + suffix


def keeper(rows):
    """The row an inbox keeps: the earliest verified, else the earliest created."""
    verified = [row for row in rows if row["status"] == VERIFIED and row["verified_at"]]
    if verified:
        return min(verified, key=lambda row: (row["verified_at"], row["pk"]))
    return min(rows, key=lambda row: (row["created_at"], row["pk"]))


def backfill_email_normalized(Signature, using="default"):
    """Rewrite ``email_normalized`` of every row of ``Signature``; return {"changed": n, "invalidated": n}."""
    manager = Signature._default_manager.db_manager(using)

    # 1. Stream the table; remember only the rows whose stored value is not (yet) right.
    moving = {}
    rows = manager.order_by("pk").values(*FIELDS, "email")
    for row in rows.iterator(chunk_size=2000):
        canonical = normalize_email(row.pop("email"))[:MAX_LENGTH]
        if row["email_normalized"] not in (canonical, duplicate_value(canonical, row["pk"])):
            moving[row["pk"]] = {**row, "canonical": canonical}  # (a row collapsed before is settled)

    # 2. The rows already holding a canonical form some moving row needs: they share its inbox.
    groups = defaultdict(list)
    for row in moving.values():
        groups[(row["petition_id"], row["canonical"])].append(row)
    wanted = sorted({canonical for _, canonical in groups})
    for start in range(0, len(wanted), BATCH):
        for row in manager.filter(email_normalized__in=wanted[start : start + BATCH]).values(*FIELDS):
            key = (row["petition_id"], row["email_normalized"])
            if key in groups and row["pk"] not in moving:
                groups[key].append({**row, "canonical": row["email_normalized"]})

    # 3. Decide, then write in two steps: first every row that moves or loses takes its own
    # "#dup<pk>" value (unique, so no order of the UPDATE's rows can collide), then the kept rows
    # take the canonical form, which nobody holds any more.
    first, then, invalidated = [], [], 0
    for group in groups.values():
        kept = keeper(group)
        for row in group:
            if row is kept and row["pk"] not in moving:
                continue
            status = row["status"]
            if row is not kept and status in (PENDING, VERIFIED):
                status, invalidated = INVALIDATED, invalidated + 1
            first.append(
                Signature(pk=row["pk"], email_normalized=duplicate_value(row["canonical"], row["pk"]), status=status)
            )
            if row is kept:
                then.append(Signature(pk=row["pk"], email_normalized=row["canonical"]))
    manager.bulk_update(first, ["email_normalized", "status"], batch_size=BATCH)
    manager.bulk_update(then, ["email_normalized"], batch_size=BATCH)
    return {"changed": len(first), "invalidated": invalidated}


def forwards(apps, schema_editor):
    backfill_email_normalized(apps.get_model("petitions_cms", "Signature"), using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [
        ("petitions_cms", "0005_updates_block"),
    ]

    operations = [
        # Going back leaves the canonical forms: they are still one per inbox.
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
