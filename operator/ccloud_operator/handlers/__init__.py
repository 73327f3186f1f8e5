"""Thin kopf handlers: parse the spec, call a reconciler, write what it reports."""
