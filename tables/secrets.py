"""Key rotation for table sources' connection URLs (`manage.py rotate_secrets`)."""

from django.db import transaction

from infra import encryption

from .models import TableSource


def reencrypt_connections() -> int:
    """Re-encrypt every table source's connection under the first key of SECRETS_KEYS; returns
    how many were rewritten. All or nothing: one unreadable connection stops it."""
    with transaction.atomic():
        table_sources = list(
            TableSource.objects.select_for_update()
            .exclude(encrypted_connection="")
            .only("pk", "encrypted_connection")
        )
        for table_source in table_sources:
            table_source.encrypted_connection = encryption.reencrypt(
                table_source.encrypted_connection
            )
        TableSource.objects.bulk_update(table_sources, ["encrypted_connection"], batch_size=500)
    return len(table_sources)
