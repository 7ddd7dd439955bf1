"""Read models of the parties outside the engine: API tokens (who may call the HTTP gateway, as
whom) and webhooks (where the event log is sent). Kept beside ``views`` so that module stays small."""

from typing import Literal

from pydantic import Field

from .views import ReadModel, Timestamp

Role = Literal["customer", "store", "rider", "ops"]


class Actor(ReadModel):
    """Who a request acts as: a role and, except for ops, one customer, store or rider."""

    role: Role
    actor_id: str | None = Field(description="the customer, store or rider id; null for ops")
    token_id: str


class Token(ReadModel):
    """An API token as listed: never the token itself (only its hash is stored)."""

    id: str
    role: Role
    actor_id: str | None
    created_at: Timestamp
    revoked_at: Timestamp | None


class IssuedToken(Token):
    """A token just created: the only time its secret is shown."""

    token: str = Field(description="the bearer token; shown once and never stored")


# -- webhooks ---------------------------------------------------------------------------------------


class Webhook(ReadModel):
    """An endpoint that receives events over HTTP, signed (Standard Webhooks); never its secret."""

    id: str
    url: str
    event_types: list[str] | None = Field(description="the event types it receives; null for every event")
    created_at: Timestamp
    position: int = Field(description="the id of the last event it has been sent (or that was parked)")
    lag: int = Field(description="events it has yet to be sent")


class IssuedWebhook(Webhook):
    """A webhook just added: the only time its signing secret is shown."""

    secret: str = Field(description="whsec_...: the signing secret; shown once (it is stored, to sign, but never printed again)")


class WebhookDelivery(ReadModel):
    """One attempt to send one event to one webhook."""

    id: int
    webhook_id: str
    event_id: int
    event_type: str
    order_id: str
    attempt: int = Field(description="1 for the first try of this event, counting on across retries and restarts")
    ok: bool
    status_code: int | None = Field(description="the HTTP status answered; null when none came (timeout, refused)")
    duration_ms: float
    error: str | None
    attempted_at: Timestamp
