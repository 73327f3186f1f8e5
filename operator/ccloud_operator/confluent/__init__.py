"""A typed Confluent Cloud client: provider integrations (pim/v1) and connectors (connect/v1)."""
