"""Tools shared by the provider tests."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


def get_current_weather(location: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> str:
    """Get the current weather in a given location.

    Longer notes that are not part of the description.
    """
    return f"20 degrees {unit} in {location}"


class LookupOrder(BaseModel):
    """Find an order by its number."""

    order_id: str = Field(description="The order number, e.g. A-1042")
