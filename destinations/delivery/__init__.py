"""The delivery pipeline, in the order an event travels: routing (events → deliveries, with
payloads), batching (claims), dispatch, transport, retries and attempts; the sweeper and the
doorbell keep it moving, retention bounds it, replay sends deliveries again."""
