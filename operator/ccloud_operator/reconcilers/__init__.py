"""Reconcilers: observe the outside world, act idempotently, report status. No kopf in here."""
