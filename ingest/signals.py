"""What ingest announces, so that the apps above it react without ingest importing them."""

from django.dispatch import Signal

# Sent once the transaction that stored new events has committed.
events_stored = Signal()
