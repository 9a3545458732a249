"""Queries that must read an index in its order and stop after a batch, whatever waits.

The router's claim of unrouted events and the dispatcher's claim of due deliveries each have a
partial index in their ORDER BY's exact order, but on a partition whose statistics predate its
rows (the autovacuum has not analyzed it yet, or never does on a busy table) PostgreSQL guesses
a handful of rows and sorts all of them to return the first few hundred: with a million
waiting, seconds per claim, spilled to disk. Sorting off for the claim's transaction leaves it
the index scans (merged across partitions), which read a batch of entries and stop.
"""

from django.db import connection


def in_index_order() -> None:
    """For the rest of the transaction, no plan may sort (SET LOCAL ends with it)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_sort = off")
