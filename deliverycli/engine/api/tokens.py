"""``engine.tokens``: API tokens (the identity context): who may act over HTTP, as whom."""

from __future__ import annotations

from ..outside_views import Actor, IssuedToken, Token
from ._base import _Group


class Tokens(_Group):
    """API tokens (the identity context): who may act over HTTP, as whom."""

    def create(self, role: str, actor_id: str | None = None) -> IssuedToken:
        """A new token for ``role`` acting as ``actor_id`` (none for ops); its secret is returned only here."""
        from .. import identity

        with self.engine.write() as conn:
            return identity.create(conn, role, actor_id, self.engine.clock.now())

    def list(self, include_revoked: bool = True) -> list[Token]:
        from .. import identity

        with self.engine.read() as conn:
            return identity.list_tokens(conn, include_revoked)

    def revoke(self, token_id: str) -> Token:
        """Revoke a token from now on (again: no change); NotFound for an unknown id."""
        from .. import identity

        with self.engine.write() as conn:
            return identity.revoke(conn, token_id, self.engine.clock.now())

    def authenticate(self, token: str) -> Actor | None:
        """Who ``token`` acts as; None when it is unknown or revoked."""
        from .. import identity

        with self.engine.read() as conn:
            return identity.authenticate(conn, token)
