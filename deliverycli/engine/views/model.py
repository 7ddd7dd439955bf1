"""What every read model shares: frozen, built on first use, times as ISO 8601 with their offset."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, PlainSerializer

# datetime.isoformat() ("+00:00"), as the event log and every earlier release printed times.
Timestamp = Annotated[datetime, PlainSerializer(datetime.isoformat, return_type=str, when_used="json")]


class ReadModel(BaseModel):
    # Built from keyword arguments by field name; serialised by alias (``schema``: a BaseModel method's name).
    model_config = ConfigDict(frozen=True, defer_build=True, validate_by_name=True, serialize_by_alias=True)
