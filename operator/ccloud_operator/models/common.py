"""Pieces shared by both kinds."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class SpecModel(BaseModel):
    """Base of every spec model: camelCase on the wire, snake_case in Python, frozen."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore")


class DeletionPolicy(StrEnum):
    DELETE = "Delete"
    ORPHAN = "Orphan"


class CloudCredentialsRef(SpecModel):
    """A Secret holding a Confluent Cloud API key and secret."""

    name: str
    api_key_key: str = "api-key"
    api_secret_key: str = "api-secret"
