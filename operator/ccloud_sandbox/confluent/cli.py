"""`ccloud-sandbox confluent serve`: run the Confluent Cloud emulator."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Any

from ccloud_sandbox.confluent.aws_access import AwsSettings
from ccloud_sandbox.confluent.faults import FaultSettings
from ccloud_sandbox.confluent.realism import profile
from ccloud_sandbox.confluent.server import ServeOptions, serve


def _add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: a free one)")
    parser.add_argument("--listen-fd", type=int, help="serve on this inherited listening socket (host/port ignored)")
    aws = parser.add_argument_group("AWS (normally a moto server)")
    aws.add_argument("--aws-endpoint", help="AWS endpoint URL used to read IAM roles and move data")
    aws.add_argument("--aws-access-key-id", default="testing")
    aws.add_argument("--aws-secret-access-key", default="testing")
    aws.add_argument("--aws-region", default="us-east-1")
    keys = parser.add_argument_group("seeded Cloud API key (generated when not given)")
    keys.add_argument("--api-key")
    keys.add_argument("--api-secret")
    parser.add_argument("--integration-quota", type=int, default=100, help="provider integrations per organization")
    parser.add_argument("--state-file", type=Path, help="JSON file that keeps all state across restarts")
    realism = parser.add_argument_group("realism (ccloud_sandbox/confluent/realism.py: each knob and its source)")
    realism.add_argument(
        "--profile",
        choices=["realistic", "kind"],
        default="realistic",
        help="realistic: as harsh as the real service (default); kind: a forgiving stand-in for unit-style tests",
    )
    realism.add_argument(
        "--time-scale", type=float, default=1.0, help="multiplies every duration of the profile (0.02: 50x faster)"
    )
    realism.add_argument(
        "--realism",
        action="append",
        default=[],
        metavar="KNOB=VALUE",
        help="change one knob of the profile, e.g. read_lag_seconds=10 (VALUE is JSON); repeatable",
    )
    realism.add_argument(
        "--provisioning-seconds",
        type=float,
        help="PROVISIONING -> RUNNING in emulator seconds (overrides the profile's value times the time scale)",
    )
    parser.add_argument("--response-log", type=Path, help="append every emulated-API response to this JSONL file")
    faults = parser.add_argument_group("faults (also settable at run time through PUT /_sandbox/faults)")
    faults.add_argument("--latency-ms", type=float, default=0.0)
    faults.add_argument("--error-rate-429", type=float, default=0.0)
    faults.add_argument("--error-rate-500", type=float, default=0.0)
    faults.add_argument("--error-rate-503", type=float, default=0.0)
    faults.add_argument("--timeout-rate", type=float, default=0.0)
    faults.add_argument("--timeout-seconds", type=float, default=30.0, help="how long a timed-out request is held")
    faults.add_argument("--rate-limit", type=float, metavar="RPS", help="token-bucket requests per second")
    faults.add_argument("--rate-limit-burst", type=int, help="token-bucket size (default: one second's worth)")
    faults.add_argument("--seed", type=int, help="seed of the fault RNG")
    parser.add_argument("--log-level", default="INFO")


def options_from_args(args: argparse.Namespace) -> ServeOptions:
    """ServeOptions from parsed command-line arguments."""
    if (args.api_key is None) != (args.api_secret is None):
        raise SystemExit("--api-key and --api-secret go together")
    aws = (
        AwsSettings(
            endpoint=args.aws_endpoint,
            access_key_id=args.aws_access_key_id,
            secret_access_key=args.aws_secret_access_key,
            region=args.aws_region,
        )
        if args.aws_endpoint
        else None
    )
    faults: dict[str, Any] = {
        "latency_ms": args.latency_ms,
        "error_rate_429": args.error_rate_429,
        "error_rate_500": args.error_rate_500,
        "error_rate_503": args.error_rate_503,
        "timeout_rate": args.timeout_rate,
        "timeout_seconds": args.timeout_seconds,
        "rate_limit_rps": args.rate_limit,
        "rate_limit_burst": args.rate_limit_burst,
        "seed": args.seed,
    }
    overrides = {}
    for item in args.realism:
        knob, _, raw = item.partition("=")
        try:
            overrides[knob.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            overrides[knob.strip()] = raw
    try:
        realism = profile(args.profile, time_scale=args.time_scale, **overrides)
        if args.provisioning_seconds is not None:
            nominal = args.provisioning_seconds / (args.time_scale or 1.0)
            realism = realism.updated({"provisioning_seconds": nominal})
    except ValueError as error:
        raise SystemExit(f"invalid realism setting: {error}") from error
    return ServeOptions(
        host=args.host,
        port=args.port,
        listen_fd=args.listen_fd,
        aws=aws,
        region=args.aws_region,
        api_key=args.api_key,
        api_secret=args.api_secret,
        integration_quota=args.integration_quota,
        state_file=args.state_file,
        realism=realism,
        response_log=args.response_log,
        faults=FaultSettings.from_json(faults),
    )


def run_serve(args: argparse.Namespace) -> int:
    """Handler of `confluent serve`."""
    logging.basicConfig(
        stream=sys.stderr,
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # botocore logs request details at DEBUG; keep it quiet so nothing sensitive reaches stderr.
    logging.getLogger("botocore").setLevel(logging.WARNING)
    return asyncio.run(serve(options_from_args(args)))


def register(subparsers: Any) -> None:
    """Add the `confluent` command (with its `serve` subcommand) to a `ccloud-sandbox` parser."""
    confluent = subparsers.add_parser("confluent", help="the Confluent Cloud emulator")
    commands = confluent.add_subparsers(dest="confluent_command", required=True)
    serve_parser = commands.add_parser("serve", help="run the emulator over HTTP")
    _add_serve_arguments(serve_parser)
    serve_parser.set_defaults(handler=run_serve)


def main(argv: list[str] | None = None) -> int:
    """`python -m ccloud_sandbox.confluent serve ...`"""
    parser = argparse.ArgumentParser(prog="python -m ccloud_sandbox.confluent", description=__doc__)
    commands = parser.add_subparsers(dest="confluent_command", required=True)
    serve_parser = commands.add_parser("serve", help="run the emulator over HTTP")
    _add_serve_arguments(serve_parser)
    serve_parser.set_defaults(handler=run_serve)
    args = parser.parse_args(argv)
    return int(args.handler(args))
