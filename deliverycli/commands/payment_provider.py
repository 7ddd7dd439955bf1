"""payment-provider: run the payment provider as a separate HTTP service (needs the `server` extra)."""

from __future__ import annotations

from pathlib import Path

import typer

from ..cli import ctx_obj, decimal, whole_number
from ..integrations import require_extra
from ..output import emit

app = typer.Typer(help="The payment provider as an HTTP service. Needs the server extra (pip install 'deliverycli[server]').", no_args_is_help=True)


def default_ledger() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("deliverycli")) / "payment-provider.db"


@app.command("serve")
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (loopback unless you ask otherwise)."),
    port: int = typer.Option(9000, "--port", parser=whole_number(0, 65535), metavar="PORT", help="Port to listen on; 0 picks a free one (printed)."),
    latency_ms: int = typer.Option(0, "--latency-ms", parser=whole_number(0, 120_000), metavar="MS", help="Fault: delay every charge, refund and void by this much."),
    failure_rate: float = typer.Option(0.0, "--failure-rate", parser=decimal(0, 1), metavar="RATE", help="Fault: share of charges that fail as if the provider were down (503)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the injected failures (the same key fails the same way)."),
    ledger: Path = typer.Option(None, "--ledger", help="The provider's own SQLite ledger [default: payment-provider.db in the data folder].", show_default=False),
    new_key: bool = typer.Option(False, "--new-key", help="Make another API key and print it (once); the ledger's first key is made and printed at its first start."),
) -> None:
    """Serve the payment provider over HTTP.

    The simulated provider, as a separate service, until Ctrl+C or SIGTERM.

    Point the engine at it with payment_gateway = "http", payment_url = the printed URL and
    payment_api_key = the printed key (DELIVERYCLI_PAYMENT_GATEWAY=http
    DELIVERYCLI_PAYMENT_URL=http://127.0.0.1:9000 DELIVERYCLI_PAYMENT_API_KEY=sk_...). A key is
    printed only when it is made: the ledger keeps its hash alone.
    """
    require_extra("fastapi", "server")
    require_extra("uvicorn", "server")
    from ..integrations import payment_provider

    cli = ctx_obj(ctx)
    ledger = (ledger or default_ledger()).expanduser()
    sock = payment_provider.listen(host, port)  # first: a busy port fails before anything is created
    try:
        app_ = payment_provider.create_app(ledger, latency_ms=latency_ms, failure_rate=failure_rate, seed=seed)
    except BaseException:
        sock.close()
        raise
    url = payment_provider.url_of(sock)
    api_key = payment_provider.make_key_if(app_, new_key)
    info = {"id": "payment-provider", "url": url, "ledger": str(ledger), "latency_ms": latency_ms, "failure_rate": failure_rate, "seed": seed, "api_key": api_key}

    def show() -> None:
        typer.echo(f"payment provider listening on {url} (ledger {ledger}); Ctrl+C stops")
        if api_key:
            typer.echo(f"API key, shown this once (the engine's payment_api_key, DELIVERYCLI_PAYMENT_API_KEY): {api_key}")

    emit(cli.json, info, show)
    payment_provider.serve(sock, app_)
