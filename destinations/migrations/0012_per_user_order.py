"""Per-user order (docs/delivery.md, "Per-user order"): a destination setting, on for the
kinds whose vendor keeps per-user state, and the lane columns and indexes of deliveries."""

from django.db import migrations, models

# The kinds with Kind.orders_per_user when this was written.
ORDERED_KINDS = [
    "amplitude",
    "braze",
    "customerio",
    "hubspot",
    "klaviyo",
    "launchdarkly",
    "mixpanel",
    "posthog",
    "segment",
]


def keep_order_of_ordered_kinds(apps, schema_editor):
    destinations = apps.get_model("destinations", "Destination")
    destinations.objects.filter(kind__in=ORDERED_KINDS).update(keep_order=True)


class Migration(migrations.Migration):
    dependencies = [
        ("destinations", "0011_claim_in_index_order"),
        ("ingest", "0007_rejection_hour"),
    ]

    operations = [
        migrations.AddField(
            model_name="delivery",
            name="lane",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="delivery",
            name="position",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="delivery",
            name="waits_on",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="destination",
            name="keep_order",
            field=models.BooleanField(
                default=False,
                help_text="Send each user's events in the order they were received: while one waits for a retry, that user's later events wait behind it; other users go on.",
                verbose_name="keep order per user",
            ),
        ),
        migrations.AlterField(
            model_name="delivery",
            name="status",
            field=models.CharField(
                choices=[
                    ("pending", "Pending"),
                    ("held", "Held"),
                    ("in_flight", "In Flight"),
                    ("retrying", "Retrying"),
                    ("delivered", "Delivered"),
                    ("failed", "Failed"),
                ],
                default="pending",
                max_length=16,
            ),
        ),
        migrations.AddIndex(
            model_name="delivery",
            index=models.Index(
                condition=models.Q(
                    ("lane__isnull", False),
                    ("status__in", ["pending", "retrying", "in_flight", "held"]),
                ),
                fields=["destination", "lane", "position", "id"],
                name="delivery_lane",
            ),
        ),
        migrations.AddIndex(
            model_name="delivery",
            index=models.Index(
                condition=models.Q(("status", "held")),
                fields=["destination", "lane", "position", "id"],
                name="delivery_held",
            ),
        ),
        migrations.RunPython(keep_order_of_ordered_kinds, migrations.RunPython.noop),
    ]
