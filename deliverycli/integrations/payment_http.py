"""The engine's payment port over HTTP: an httpx client of the payment provider service
(``deliverycli payment-provider serve``; see payment_provider.py for its API).

Every call carries the order id as its ``Idempotency-Key`` and is bounded by the call's timeout,
which is also sent to the provider (``Request-Timeout``), so a provider that cannot answer in time
gives up without charging. A provider that cannot be reached, times out or answers 5xx is
``GatewayUnavailable`` (counted by the circuit breaker); a decline is ``CardDeclined`` (not counted).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ..engine.errors import InvalidInput, NotFound

try:
    import httpx
except ImportError:  # the `server` extra is not installed: say so, rather than an internal error
    raise InvalidInput("payment_gateway = \"http\" needs the 'server' extra: pip install 'deliverycli[server]'") from None
from ..engine.payment import CardDeclined, GatewayCharge, GatewayUnavailable

TIMEOUT_HEADER = "Request-Timeout"  # seconds the caller waits; the provider gives up past it
LEDGER_PAGE = 5000  # charges per page when the whole ledger is read (doctor --check)


class HttpGateway:
    """A ``PaymentGateway`` that calls the payment provider at ``base_url``.

    ``default_timeout_s`` bounds ``lookup`` (the port gives it no timeout of its own); ``api_key``
    authenticates every call. One connection pool, shared by every thread of the process.
    """

    def __init__(
        self, base_url: str, default_timeout_s: float = 3.0, *, api_key: str | None = None, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.default_timeout_s = default_timeout_s
        headers = {"User-Agent": "deliverycli"} | ({"Authorization": f"Bearer {api_key}"} if api_key else {})
        self.client = httpx.Client(base_url=self.base_url, transport=transport, headers=headers)

    def close(self) -> None:
        self.client.close()

    def charge(self, key: str, amount: int, card_number: str, timeout: float) -> GatewayCharge:
        return _charge(self._call("POST", "/charges", key, timeout, {"amount": amount, "card_number": card_number}))

    def refund(self, key: str, amount: int, timeout: float) -> str:
        return str(self._call("POST", "/refunds", key, timeout, {"amount": amount})["refund_id"])

    def lookup(self, key: str) -> GatewayCharge | None:
        try:
            return _charge(self._call("GET", f"/charges/{quote(key, safe='')}", key, self.default_timeout_s))
        except NotFound:
            return None

    def charges(self) -> dict[str, GatewayCharge]:
        """The provider's whole ledger, by key, a page at a time: what `doctor --check` compares our
        payments with. GatewayUnavailable if the provider cannot list it."""
        ledger: dict[str, GatewayCharge] = {}
        after: str | None = None
        while True:
            page = self._call("GET", "/charges", "", self.default_timeout_s, params={"limit": LEDGER_PAGE} | ({"after": after} if after else {}))
            try:
                ledger.update({str(key): _charge(charge) for key, charge in page["charges"].items()})
                after = page["next"]
            except (KeyError, AttributeError):
                raise GatewayUnavailable(f"the payment provider's answer is not a page of its ledger: {str(page)[:200]}") from None
            if after is None:
                return ledger

    def void(self, key: str, timeout: float) -> GatewayCharge | None:
        answer = self._call("POST", "/voids", key, timeout, {})
        return _charge(answer["charge"]) if answer.get("charge") else None

    def _call(
        self, method: str, path: str, key: str, timeout: float, body: dict[str, Any] | None = None, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        headers = {TIMEOUT_HEADER: f"{timeout:g}"} | ({"Idempotency-Key": key} if key else {})
        try:
            response = self.client.request(method, path, json=body, params=params, headers=headers, timeout=timeout)
        except httpx.TimeoutException:
            raise GatewayUnavailable(f"no answer within {timeout:g}s") from None
        except httpx.TransportError as exc:  # refused, reset, DNS: the provider is not there
            raise GatewayUnavailable(f"cannot reach the payment provider at {self.base_url}: {_reason(exc)}") from None
        if response.is_success:
            try:
                return response.json()
            except ValueError:
                raise GatewayUnavailable(f"{self.base_url} answered {method} {path} with something other than JSON: is it the payment provider?") from None
        message = _problem(response)
        if response.status_code == 402:
            raise CardDeclined(message)
        if response.status_code == 404:
            raise NotFound(message)
        if response.status_code == 401:
            raise GatewayUnavailable(f"the payment provider refused our API key: {message} (set payment_api_key, DELIVERYCLI_PAYMENT_API_KEY, to a key it printed)")
        raise GatewayUnavailable(message if response.status_code >= 500 else f"the payment provider refused the call ({response.status_code}): {message}")


def _charge(data: dict[str, Any]) -> GatewayCharge:
    try:
        return GatewayCharge(str(data["charge_id"]), int(data["amount"]), str(data["card_suffix"]), data.get("refund_id"))
    except (KeyError, TypeError, ValueError):
        raise GatewayUnavailable(f"the payment provider's answer is not a charge: {str(data)[:200]}") from None


def _problem(response: httpx.Response) -> str:
    """The provider's own words (``{"detail": ...}``), else the status line."""
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    return str(detail) if detail else f"HTTP {response.status_code} {response.reason_phrase}".strip()


def _reason(exc: httpx.TransportError) -> str:
    text = str(exc) or type(exc).__name__
    return text.removeprefix("[Errno 111] ")
