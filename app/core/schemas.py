"""Base for response schemas: built from table rows by attribute."""

from pydantic import BaseModel, ConfigDict


class ReadModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class InputModel(BaseModel):
    """Base for request bodies of our own resources: an unknown field (a typo, or a
    write-only field that cannot be changed this way) is a 422, not silently ignored."""

    model_config = ConfigDict(extra="forbid")
