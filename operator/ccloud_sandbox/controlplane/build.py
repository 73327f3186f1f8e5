"""Build kube-apiserver, kube-controller-manager, etcd and helm from Go modules.

`go install k8s.io/kubernetes/cmd/...@vX` does not work: the kubernetes go.mod
requires every staging module as `v0.0.0` and points it at `./staging` with
`replace`. So a throw-away module is written that requires
`k8s.io/kubernetes vX` and replaces each staging module with its published
`v0.<minor>.<patch>` tag; the list comes from kubernetes' own go.mod, read
from the module cache.

Binaries land in a cache outside the repository keyed by version, so a second
build (or a second checkout) costs nothing. A file lock makes two concurrent
builds wait for each other instead of racing on the same output.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

KUBERNETES_VERSION = "v1.36.3"
HELM_VERSION = "v3.19.0"

#: Kubernetes binaries built from the k8s.io/kubernetes module graph.
KUBERNETES_COMMANDS = ("kube-apiserver", "kube-controller-manager")
#: What a node adds, from the same module graph; built only when asked for (`controlplane build --with-node`).
NODE_COMMANDS = ("kubelet", "kube-scheduler", "kube-proxy")


class BuildError(RuntimeError):
    """A build step failed; the message names what is missing and how to fix it."""


@dataclass(frozen=True)
class Toolchain:
    """Where the built binaries live for one Kubernetes version."""

    kubernetes_version: str
    helm_version: str
    root: Path

    @property
    def bin_dir(self) -> Path:
        return self.root / "bin"

    def binary(self, name: str) -> Path:
        return self.bin_dir / name

    @property
    def all_binaries(self) -> tuple[str, ...]:
        return (*KUBERNETES_COMMANDS, "etcd", "helm")

    def missing(self, *, with_node: bool = False) -> list[str]:
        wanted = (*self.all_binaries, *NODE_COMMANDS) if with_node else self.all_binaries
        return [name for name in wanted if not self.binary(name).is_file()]


def cache_root() -> Path:
    """The cache directory; `CCLOUD_OPERATOR_CACHE` overrides `~/.cache/ccloud-operator`."""
    configured = os.environ.get("CCLOUD_OPERATOR_CACHE")
    if configured:
        return Path(configured)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "ccloud-operator"


def toolchain(kubernetes_version: str = KUBERNETES_VERSION, helm_version: str = HELM_VERSION) -> Toolchain:
    """The toolchain for a version; nothing is built by calling this."""
    key = f"k8s-{kubernetes_version}-helm-{helm_version}"
    return Toolchain(kubernetes_version, helm_version, cache_root() / key)


def _progress(message: str) -> None:
    print(f"[controlplane build] {message}", file=sys.stderr, flush=True)


def _go() -> str:
    go = shutil.which("go")
    if go is None:
        raise BuildError(
            "the Go toolchain is not on PATH: install Go 1.24 or newer (with access to the Go module "
            "proxy), or run the tests against an existing cluster with CCLOUD_TEST_CLUSTER=existing"
        )
    return go


def _run(args: list[str], cwd: Path, what: str, env: dict[str, str] | None = None) -> str:
    started = time.monotonic()
    _progress(f"{what} ...")
    proc = subprocess.run(
        args,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip()
        missing = re.findall(r"(?:module|package) (\S+)[^\n]*(?:not found|unknown revision|no matching)", detail)
        hint = f" (the Go proxy lacks: {', '.join(sorted(set(missing)))})" if missing else ""
        raise BuildError(f"{what} failed{hint}:\n{detail[-4000:]}")
    _progress(f"{what} done in {time.monotonic() - started:.0f}s")
    return proc.stdout


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _progress(f"another build holds {path}; waiting for it")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def staging_replacements(kubernetes_gomod: str, kubernetes_version: str) -> dict[str, str]:
    """Map each `./staging` replace of kubernetes' go.mod to its published tag.

    `k8s.io/api => ./staging/src/k8s.io/api` in kubernetes v1.36.3 becomes
    `k8s.io/api v0.36.3`.
    """
    match = re.fullmatch(r"v1\.(\d+)\.(\d+)", kubernetes_version)
    if match is None:
        raise BuildError(f"unexpected Kubernetes version {kubernetes_version!r}; expected v1.MINOR.PATCH")
    staging_version = f"v0.{match.group(1)}.{match.group(2)}"
    modules = re.findall(r"^\s*(k8s\.io/[\w.-]+)\s*=>\s*\./staging/", kubernetes_gomod, flags=re.MULTILINE)
    if not modules:
        raise BuildError("kubernetes' go.mod has no ./staging replacements; the recipe needs updating")
    return {module: staging_version for module in modules}


def _gomod_directive(gomod: str, name: str) -> str | None:
    found = re.search(rf"^{name} (\S+)\s*$", gomod, flags=re.MULTILINE)
    return found.group(1) if found else None


def _etcd_version(kubernetes_gomod: str) -> str:
    found = re.search(r"go\.etcd\.io/etcd/server/v3 (v\S+)", kubernetes_gomod)
    if found is None:
        raise BuildError("kubernetes' go.mod does not pin go.etcd.io/etcd/server/v3")
    return found.group(1)


def _download_gomod(go: str, workdir: Path, module: str) -> str:
    out = _run([go, "mod", "download", "-json", module], workdir, f"fetching {module}")
    info = json.loads(out)
    if "Error" in info:
        raise BuildError(f"the Go proxy could not serve {module}: {info['Error']}")
    return Path(info["GoMod"]).read_text()


def _build_kubernetes(go: str, chain: Toolchain, workdir: Path, commands: tuple[str, ...]) -> None:
    version = chain.kubernetes_version
    kubernetes_gomod = _download_gomod(go, workdir, f"k8s.io/kubernetes@{version}")
    replacements = staging_replacements(kubernetes_gomod, version)
    go_line = _gomod_directive(kubernetes_gomod, "go") or "1.24"
    godebug = _gomod_directive(kubernetes_gomod, "godebug")
    lines = ["module ccloud-operator.local/k8sbuild", "", f"go {go_line}"]
    if godebug:
        lines.append(f"godebug {godebug}")
    lines += ["", f"require k8s.io/kubernetes {version}", "", "replace ("]
    lines += [f"\t{module} => {module} {tag}" for module, tag in sorted(replacements.items())]
    lines += [")", ""]
    module_dir = workdir / "kubernetes"
    module_dir.mkdir(parents=True, exist_ok=True)
    (module_dir / "go.mod").write_text("\n".join(lines))
    packages = [f"k8s.io/kubernetes/cmd/{command}" for command in commands]
    _run([go, "get", *[f"{p}@{version}" for p in packages]], module_dir, "resolving the Kubernetes module graph")
    ldflags = (
        f"-s -w -X k8s.io/component-base/version.gitVersion={version} "
        f"-X k8s.io/component-base/version.gitTreeState=clean "
        f"-X k8s.io/client-go/pkg/version.gitVersion={version}"
    )
    for command, package in zip(commands, packages, strict=True):
        if not chain.binary(command).is_file():
            _build_one(go, module_dir, package, chain.binary(command), ldflags, command)


def _build_etcd(go: str, chain: Toolchain, workdir: Path, kubernetes_gomod: str) -> None:
    version = _etcd_version(kubernetes_gomod)
    module_dir = workdir / "etcd"
    module_dir.mkdir(parents=True, exist_ok=True)
    (module_dir / "go.mod").write_text(
        f"module ccloud-operator.local/etcdbuild\n\ngo 1.24\n\nrequire go.etcd.io/etcd/server/v3 {version}\n"
    )
    _run([go, "get", f"go.etcd.io/etcd/server/v3@{version}"], module_dir, f"resolving etcd {version}")
    _build_one(go, module_dir, "go.etcd.io/etcd/server/v3", chain.binary("etcd"), "-s -w", f"etcd {version}")


def _build_helm(go: str, chain: Toolchain, workdir: Path) -> None:
    version = chain.helm_version
    module_dir = workdir / "helm"
    module_dir.mkdir(parents=True, exist_ok=True)
    (module_dir / "go.mod").write_text(
        f"module ccloud-operator.local/helmbuild\n\ngo 1.24\n\nrequire helm.sh/helm/v3 {version}\n"
    )
    _run([go, "get", f"helm.sh/helm/v3/cmd/helm@{version}"], module_dir, f"resolving helm {version}")
    ldflags = f"-s -w -X helm.sh/helm/v3/internal/version.version={version}"
    _build_one(go, module_dir, "helm.sh/helm/v3/cmd/helm", chain.binary("helm"), ldflags, f"helm {version}")


def _build_one(go: str, module_dir: Path, package: str, output: Path, ldflags: str, what: str) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_suffix(".partial")
    _run(
        [go, "build", "-trimpath", "-ldflags", ldflags, "-o", str(partial), package],
        module_dir,
        f"compiling {what}",
        env={"CGO_ENABLED": "0"},
    )
    # Rename last: a build killed half-way never leaves a binary that looks finished.
    partial.replace(output)


def build(chain: Toolchain | None = None, *, with_node: bool = False) -> Toolchain:
    """Build whatever binaries are missing from the cache (with a node's too, if asked); return the toolchain."""
    chain = chain or toolchain()
    if not chain.missing(with_node=with_node):
        _progress(f"cached: {chain.bin_dir}")
        return chain
    with _locked(chain.root / ".build.lock"):
        missing = chain.missing(with_node=with_node)
        if not missing:
            _progress(f"built by another process: {chain.bin_dir}")
            return chain
        go = _go()
        started = time.monotonic()
        _progress(f"building {', '.join(missing)} into {chain.bin_dir} (a cold build takes 10-20 minutes)")
        workdir = chain.root / "work"
        workdir.mkdir(parents=True, exist_ok=True)
        kubernetes_gomod = _download_gomod(go, workdir, f"k8s.io/kubernetes@{chain.kubernetes_version}")
        kubernetes_commands = tuple(name for name in (*KUBERNETES_COMMANDS, *NODE_COMMANDS) if name in missing)
        if kubernetes_commands:
            _build_kubernetes(go, chain, workdir, kubernetes_commands)
        if "etcd" in missing:
            _build_etcd(go, chain, workdir, kubernetes_gomod)
        if "helm" in missing:
            _build_helm(go, chain, workdir)
        _progress(f"all binaries built in {time.monotonic() - started:.0f}s")
    return chain
