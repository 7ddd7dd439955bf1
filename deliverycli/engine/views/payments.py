"""Payments and notifications."""

from pydantic import Field

from .model import ReadModel, Timestamp


class PaymentView(ReadModel):
    id: str
    order_id: str
    amount: int
    status: str = Field(description="APPROVED, DECLINED or REFUNDED")
    charge_id: str | None
    refund_id: str | None
    card: str = Field(description="the card's masked suffix")
    reason: str | None
    created_at: Timestamp
    refunded_at: Timestamp | None


class Notification(ReadModel):
    id: int
    order_id: str
    recipient: str = Field(description="recipient_type:recipient_id")
    recipient_type: str
    recipient_id: str
    status: str
    channel: str
    message: str
    created_at: Timestamp
