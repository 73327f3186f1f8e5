"""`ccloud-sandbox`: the local control plane, the Confluent Cloud emulator and the demo."""

from __future__ import annotations

import argparse
import sys

from ccloud_sandbox import demo, image
from ccloud_sandbox.confluent import cli as confluent_cli
from ccloud_sandbox.controlplane import cli as controlplane_cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ccloud-sandbox", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    controlplane_cli.register(commands)
    confluent_cli.register(commands)
    demo.register(commands)
    image.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `ccloud-sandbox` console script."""
    args = build_parser().parse_args(argv)
    handler = args.handler
    return int(handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
