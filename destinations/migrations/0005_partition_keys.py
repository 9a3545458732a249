"""The columns partitioning needs: a delivery carries its event's received_at, a link its
attempt's started_at; foreign keys into the tables to be partitioned leave the database."""

import django.db.models.deletion
from django.db import migrations, models

FILL_EVENT_RECEIVED_AT = """
UPDATE destinations_delivery SET event_received_at = (
    SELECT received_at FROM ingest_event WHERE ingest_event.id = destinations_delivery.event_id
)
"""
FILL_LINK_STARTED_AT = """
UPDATE destinations_deliveryattempt_deliveries AS link SET started_at = (
    SELECT started_at FROM destinations_deliveryattempt AS attempt
    WHERE attempt.id = link.deliveryattempt_id
)
"""


class Migration(migrations.Migration):
    dependencies = [
        ("destinations", "0004_log_indexes"),
        ("ingest", "0006_event_source_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="delivery",
            name="event_received_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.RunSQL(FILL_EVENT_RECEIVED_AT, migrations.RunSQL.noop),
        migrations.AlterField(
            model_name="delivery",
            name="event_received_at",
            field=models.DateTimeField(),
        ),
        migrations.AlterField(
            model_name="delivery",
            name="event",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="deliveries",
                to="ingest.event",
            ),
        ),
        migrations.AlterField(
            model_name="delivery",
            name="replay_of",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="replays",
                to="destinations.delivery",
            ),
        ),
        migrations.RemoveConstraint(model_name="delivery", name="delivery_unique_route"),
        migrations.AddConstraint(
            model_name="delivery",
            constraint=models.UniqueConstraint(
                condition=models.Q(("replay", False)),
                fields=("event", "mapping", "event_received_at"),
                name="delivery_unique_route",
            ),
        ),
        # The many-to-many table becomes a model of its own, on the same table.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AttemptLink",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "deliveryattempt",
                            models.ForeignKey(
                                db_constraint=False,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="destinations.deliveryattempt",
                            ),
                        ),
                        (
                            "delivery",
                            models.ForeignKey(
                                db_constraint=False,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="destinations.delivery",
                            ),
                        ),
                    ],
                    options={"db_table": "destinations_deliveryattempt_deliveries"},
                ),
                migrations.AlterField(
                    model_name="deliveryattempt",
                    name="deliveries",
                    field=models.ManyToManyField(
                        related_name="attempt_log",
                        through="destinations.AttemptLink",
                        to="destinations.delivery",
                    ),
                ),
            ],
        ),
        migrations.AddField(
            model_name="attemptlink",
            name="started_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.RunSQL(FILL_LINK_STARTED_AT, migrations.RunSQL.noop),
        migrations.AlterField(
            model_name="attemptlink",
            name="started_at",
            field=models.DateTimeField(),
        ),
    ]
