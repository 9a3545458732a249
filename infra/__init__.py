"""Infrastructure the apps share, importing none of them: bulk INSERT, hourly tallies, the
Redis client and the metrics registry."""
