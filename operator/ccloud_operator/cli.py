"""`ccloud-operator`: run the operator."""

from __future__ import annotations

import argparse
import asyncio
import sys

import pydantic

from ccloud_operator import __version__, logs
from ccloud_operator.settings import OperatorSettings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ccloud-operator", description=__doc__)
    parser.add_argument("--version", action="version", version=f"ccloud-operator {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the operator (settings from CCLOUD_OPERATOR_* and these flags)")
    scope = run.add_mutually_exclusive_group()
    scope.add_argument(
        "-n", "--namespace", action="append", dest="namespaces", help="watch this namespace (repeatable)"
    )
    scope.add_argument("-A", "--all-namespaces", action="store_true", help="watch every namespace (the default)")
    run.add_argument("--confluent-url", help="Confluent Cloud API base URL")
    run.add_argument("--aws-endpoint-url", help="custom AWS endpoint")
    run.add_argument("--resync-interval", type=float, help="seconds between connector resyncs")
    run.add_argument("--validation-interval", type=float, help="seconds between integration validations")
    run.add_argument("--cloud-credentials-secret", help="default Cloud API key Secret as namespace/name")
    run.add_argument("--log-format", choices=["text", "json"])
    run.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    run.add_argument("--metrics-port", type=int, help="port of /metrics; 0 turns it off")
    run.add_argument("--health-port", type=int, help="port of /healthz; 0 turns it off")
    run.add_argument(
        "--leader-election",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="reconcile only while holding a Lease (for more than one replica)",
    )
    run.add_argument("--shard-index", type=int, help="this process's shard, 0 .. shard-count-1")
    run.add_argument("--shard-count", type=int, help="how many shards split the namespaces")
    run.set_defaults(handler=run_command)
    return parser


def _settings(args: argparse.Namespace) -> OperatorSettings:
    overrides = {
        key: value for key, value in vars(args).items() if key in OperatorSettings.model_fields and value is not None
    }
    if args.all_namespaces:
        overrides["namespaces"] = []
    return OperatorSettings(**overrides)


def run_command(args: argparse.Namespace) -> int:
    try:
        settings = _settings(args)
    except pydantic.ValidationError as error:
        print(f"ccloud-operator: invalid settings:\n{error}", file=sys.stderr)
        return 2
    logs.configure(settings.log_format, settings.log_level)
    from ccloud_operator import memory

    # Before any thread starts: an arena is created per thread that allocates while others hold theirs.
    memory.limit_arenas(settings.malloc_arena_max)
    memory.fix_mmap_threshold(settings.malloc_mmap_threshold)
    from ccloud_operator.app import run_operator  # kopf is imported only when it is needed

    return asyncio.run(run_operator(settings))


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `ccloud-operator` console script."""
    args = build_parser().parse_args(argv)
    return int(args.handler(args) or 0)
