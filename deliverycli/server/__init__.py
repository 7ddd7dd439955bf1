"""The seed's API gateway over HTTP (`deliverycli serve`, the optional ``server`` extra).

A thin FastAPI layer over one engine per process: routes map the caller's identity (a bearer token,
``auth``) to a call of the engine's typed API and return its typed read models; every refusal is
the engine's, worded as RFC 9457 problem+json in one place (``errors``). Nothing here is imported
on a plain CLI path.
"""
