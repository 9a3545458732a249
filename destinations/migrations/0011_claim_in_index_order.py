"""The due index in the claim's order, (mapping, next_attempt_at, id): a claim then reads the
first entries of each partition and stops, where it sorted the whole backlog before."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("destinations", "0010_transformation_libraries")]

    operations = [
        migrations.RemoveIndex(model_name="delivery", name="delivery_due"),
        migrations.AddIndex(
            model_name="delivery",
            index=models.Index(
                condition=models.Q(("status__in", ["pending", "retrying"])),
                fields=["mapping", "next_attempt_at", "id"],
                name="delivery_due",
            ),
        ),
    ]
