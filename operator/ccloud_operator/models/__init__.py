"""Typed, frozen views of the custom resources' specs."""
