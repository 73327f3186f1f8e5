"""Crash soak: the reliability suite's kill loop, for many more cycles than CI can afford.

Each round creates pairs (ProviderIntegration + S3 sink connector), kills the operator at random
moments while they are created, updated and deleted, restarts it, and checks the end state in the
real components: no duplicate integration or connector, nothing left after deletes. Prints a table
and writes JSON.

    python benchmarks/crash_soak.py --rounds 5 --cycles 40 --seed 1 --out crash-soak.json

It needs what the tests need: the control-plane binaries (`ccloud-sandbox controlplane build`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tests"), str(REPO / "tests" / "operator"), str(REPO / "tests" / "reliability")]

from kubernetes import client  # noqa: E402
from reliability_support import (  # noqa: E402
    CrashLog,
    create_pair,
    duplicates,
    is_ready,
    kill_loop,
    operator_roles,
    wait_all,
)

from ccloud_operator.constants import MANAGED_CONNECTORS as MC  # noqa: E402
from ccloud_operator.constants import PROVIDER_INTEGRATIONS as PI  # noqa: E402
from ccloud_sandbox.aws import MotoServer  # noqa: E402
from ccloud_sandbox.confluent.launcher import EmulatorProcess  # noqa: E402
from ccloud_sandbox.controlplane.cluster import ControlPlane  # noqa: E402

from harness_support import api_client, apply_crds  # noqa: E402
from operator_world import TIME_SCALE, World  # noqa: E402


def soak_round(world: World, seed: int, cycles: int, pairs: int) -> dict[str, Any]:
    """One round: create, update and delete `pairs` pairs under `cycles` kills per phase."""
    rng = random.Random(seed)
    names = [f"s{seed % 10000}-{i}" for i in range(pairs)]
    expected = {PI: names, MC: [f"{n}-sink" for n in names]}
    result: dict[str, Any] = {"seed": seed, "cycles": 0, "problems": []}
    started = time.monotonic()
    for phase, action in (("create", "create"), ("update", "update"), ("delete", "delete")):
        log = CrashLog(seed)
        done: list[str] = []

        def act(cycle: int, action: str = action, done: list[str] = done) -> None:
            if action == "create" and cycle == 0:
                for name in names:
                    create_pair(world, name)
            elif action == "update":
                name = names[cycle % len(names)]
                world.patch(MC, f"{name}-sink", {"spec": {"config": {"flush.size": str(1000 + cycle)}}})
            elif action == "delete" and cycle < len(names):
                world.delete(MC, f"{names[cycle]}-sink")
                world.delete(PI, names[cycle])
                done.append(names[cycle])

        kill_loop(world, rng, log, cycles, before_cycle=act)
        if action == "delete":
            for name in names:
                if name not in done:
                    world.delete(MC, f"{name}-sink")
                    world.delete(PI, name)
        world.start_operator()
        phase_started = time.monotonic()
        try:
            if action == "delete":
                wait_all(world, expected, lambda o: o is None, "gone", log)
            else:
                wait_all(world, expected, lambda o: o is not None and is_ready(o), "Ready", log)
        except AssertionError as error:
            result["problems"].append(f"{phase}: {str(error)[:400]}")
        result[f"{phase}_settle_seconds"] = round(time.monotonic() - phase_started, 1)
        result[f"{phase}_lost_response_cycles"] = log.lost_response_cycles
        result["problems"] += [f"{phase}: duplicate {d}" for d in duplicates(world)]
        assert world.operator is not None
        world.operator.kill()
        result["cycles"] += log.cycles
    state = world.admin.state()
    if state["integrations"] or state["connectors"]:
        result["problems"].append(f"left in Confluent: {list(state['integrations'])} {list(state['connectors'])}")
    if operator_roles(world):
        result["problems"].append(f"left in AWS: {operator_roles(world)}")
    result["seconds"] = round(time.monotonic() - started, 1)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cycles", type=int, default=30, help="kill cycles per phase (3 phases per round)")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("crash-soak.json"))
    args = parser.parse_args()

    results = []
    with tempfile.TemporaryDirectory(prefix="crash-soak-") as scratch:
        plane = ControlPlane(Path(scratch) / "controlplane")
        moto = MotoServer().start()
        try:
            kubeconfig = plane.up()
            with contextlib.closing(api_client(kubeconfig)) as api:
                apply_crds(api, REPO / "crds")
                for number in range(args.rounds):
                    seed = args.seed + number
                    namespace = f"soak-{seed}"
                    client.CoreV1Api(api).create_namespace(
                        client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace))
                    )
                    moto.reset()
                    round_dir = Path(scratch) / namespace
                    round_dir.mkdir()
                    emulator = EmulatorProcess(
                        aws_endpoint=moto.endpoint,
                        time_scale=TIME_SCALE,
                        state_file=round_dir / "state.json",
                    )
                    emulator.start()
                    world = World(namespace, api, moto, emulator, kubeconfig, round_dir)
                    try:
                        outcome = soak_round(world, seed, args.cycles, args.pairs)
                        outcome["secret_leaks"] = world.leaked_secrets()
                    finally:
                        if world.operator is not None:
                            world.operator.stop()
                        emulator.close()
                    results.append(outcome)
                    print(
                        f"round {number + 1}/{args.rounds} seed {seed}: {outcome['cycles']} kills, "
                        f"{len(outcome['problems'])} problems, {outcome['seconds']}s",
                        flush=True,
                    )
        finally:
            moto.stop()
            plane.down()

    header = f"{'seed':>6} {'kills':>6} {'create s':>9} {'update s':>9} {'delete s':>9} {'problems':>9}"
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r['seed']:>6} {r['cycles']:>6} {r.get('create_settle_seconds', '-'):>9} "
            f"{r.get('update_settle_seconds', '-'):>9} {r.get('delete_settle_seconds', '-'):>9} "
            f"{len(r['problems']) + len(r['secret_leaks']):>9}"
        )
    args.out.write_text(json.dumps({"rounds": results}, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 1 if any(r["problems"] or r["secret_leaks"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
