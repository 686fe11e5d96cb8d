"""The event log's database: its table, the mover that fills it from Redis, and the KPIs read from it."""
