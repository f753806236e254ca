"""The options of ``tabinv attack|assess --endpoint URL`` and the dry run's table.

``--endpoint`` replaces ``--model``: the model is a deployed MLflow scoring server or an
Open Inference Protocol v2 endpoint (:mod:`tabinv.models.endpoint`), queried with the
batching, concurrency, retries, token and query budget given here.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ..exceptions import TabinvError
from ..models.endpoint import PROTOCOLS, EndpointSpec

__all__ = ["EndpointOptions", "endpoint_source", "query_lines"]

Endpoint = Annotated[str | None, typer.Option(
    "--endpoint", help="URL of a deployed model (instead of --model): an MLflow scoring "
    "server (http://HOST:PORT, POST /invocations) or an Open Inference Protocol v2 "
    "server (with --protocol v2 --model-name NAME).")]
Protocol = Annotated[str, typer.Option(
    "--protocol", help=f"The endpoint's protocol: {', '.join(PROTOCOLS)}.")]
ModelName = Annotated[str | None, typer.Option(
    "--model-name", help="The model's name on a v2 server.")]
BatchRows = Annotated[int | None, typer.Option(
    "--batch-rows", help="Rows per request (default 1000, halved when the server answers "
    "413).")]
Concurrency = Annotated[int, typer.Option(
    "--concurrency", help="Requests in flight at once (1-64).")]
AuthEnv = Annotated[str | None, typer.Option(
    "--auth-env", help="Environment variable holding the endpoint's token, sent as "
    "'Authorization: Bearer TOKEN' (never printed or written).")]
MaxQueries = Annotated[int | None, typer.Option(
    "--max-queries", help="Rows the attacker may send in all; when spent the run stops "
    "cleanly and the records completed are reported as partial.")]
DryRun = Annotated[bool, typer.Option(
    "--dry-run", help="Send nothing: print the rows and requests each attack would send.")]
Insecure = Annotated[bool, typer.Option(
    "--insecure", help="Do not verify the endpoint's TLS certificate (test servers only).")]


def endpoint_source(model: str | None, endpoint: str | None, *, default: str | None = None,
                    **options: Any) -> str | EndpointSpec:
    """What to open: ``model`` (a family, file, directory or URI) or the endpoint.
    ``default``: the value --model has when not given (``assess``'s family)."""
    endpoint_only = {k: v for k, v in options.items()
                     if k not in ("protocol", "concurrency", "verify", "dry_run")}
    if endpoint is None:
        used = [k for k, v in endpoint_only.items() if v is not None]
        if options.get("dry_run") or used:
            flags = ", ".join("--" + k.replace("_", "-") for k in
                              (used or ["dry_run"]))
            raise TabinvError(f"{flags} appl{'ies' if len(used) < 2 else 'y'} to a "
                              "deployed model: give --endpoint URL")
        if model is None:
            raise TabinvError("give the model: --model FILE|DIR|URI or --endpoint URL")
        return model
    if model is not None and model != default:
        raise TabinvError("give --model or --endpoint, not both")
    return EndpointSpec(endpoint, **options)


def query_lines(threat: dict[str, Any]) -> list[str]:
    """The query cost in words: setup, each attack on each population, what was not
    done (the dry run's table; also under a run's summary)."""
    queries = threat.get("queries")
    if not queries:
        return []
    setup = queries["setup"]
    lines = [f"endpoint reveals: {(queries.get('detected_access') or {}).get('detected')}",
             f"setup (probe + published statistics): {setup['rows']:,} rows, "
             f"{setup['requests']:,} requests"]
    for entry in queries["attacks"]:
        per = entry["queries_per_record"]
        lines.append(
            f"{entry['attack']} on {entry['population']}: {entry['records']:,} of "
            f"{entry['records_total']:,} records, {entry['rows']:,} rows, "
            f"{entry['requests']:,} requests, {entry['retries']:,} retries"
            + (f", {per:,.1f} rows per record" if per is not None else "")
            + (" (partial)" if entry["partial"] else ""))
    total = queries["total"]
    lines.append(f"total: {total['rows']:,} rows, {total['requests']:,} requests, "
                 f"{total['retries']:,} retries, {total['seconds']:.2f} s")
    lines += [f"not done: {item}" for item in queries["not_done"]]
    return lines


class EndpointOptions:
    """Namespace of the option types (for the commands' signatures)."""

    Endpoint = Endpoint
    Protocol = Protocol
    ModelName = ModelName
    BatchRows = BatchRows
    Concurrency = Concurrency
    AuthEnv = AuthEnv
    MaxQueries = MaxQueries
    DryRun = DryRun
    Insecure = Insecure
