"""Build the operator's container image with the local Docker engine, without a registry or network inside.

Two things an ordinary `docker build` would fetch are made on the host instead:

- **The base.** No registry for base images may be reachable, so the default base is a Debian root
  filesystem made with `debootstrap --variant=minbase` (plus `python3` and `ca-certificates`) from the
  mirror apt already uses, trimmed of documentation and apt's caches, and imported with `docker import`.
  The tarball is cached under `~/.cache/ccloud-operator/base/`, keyed by suite and recipe, so it is
  bootstrapped once; a later build only re-imports it when the engine lost the image. `--base` takes any
  other image with a `python3` (e.g. `python:3.11.11-slim-bookworm` where a registry is reachable).
- **The Python packages.** The operator's wheel is built on the host, and its dependencies are
  downloaded as binary wheels for the base's Python version, C library and machine, pinned by
  constraints.txt, with pip's own wheel to install them. The build context holds only those wheels,
  and the build runs with `--network none`: it works offline and behind a TLS-inspecting proxy whose
  certificate authority only the host trusts.

    ccloud-sandbox image build [--base IMAGE] [--tag TAG]    (make image)
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ccloud_sandbox.controlplane.build import cache_root
from ccloud_sandbox.controlplane.cli import repo_root

DEFAULT_TAG = "ccloud-operator:dev"
#: An environment variable naming the base image, read by `image build` and the image test.
BASE_ENV = "CCLOUD_IMAGE_BASE"
#: `image status` exits with this when no Docker engine answers.
EXIT_NO_ENGINE = 3
DEBIAN_SUITE = "bookworm"
#: What the operator's virtual environment needs from the base: an interpreter, and the system's
#: certificate store for clients that read it (aiohttp's default SSL context does).
DEBIAN_PACKAGES = ("python3", "ca-certificates")
#: Used when apt's sources name no mirror for the suite.
FALLBACK_MIRROR = "http://deb.debian.org/debian"
#: Trimmed from the bootstrapped tree: nothing at run time reads them. Copyright files stay.
TRIMMED_PATHS = ("usr/share/man", "usr/share/info", "usr/share/locale", "var/lib/apt/lists", "var/cache/apt")


class ImageBuildError(RuntimeError):
    """A step of the image build failed; the message says which and what it needs."""


@dataclass(frozen=True)
class BasePython:
    """What the wheels must match: the base image's Python, C library and machine."""

    version: str  # "3.11"
    glibc: str  # "2.36"
    machine: str  # "x86_64"

    def platforms(self) -> list[str]:
        """pip `--platform` tags this base accepts: every manylinux glibc level up to its own."""
        match = re.fullmatch(r"2\.(\d+)", self.glibc)
        if match is None:
            # platform.libc_ver() answers "" on a musl base (Alpine), whose wheels are musllinux ones.
            raise ImageBuildError(f"the base's C library is {self.glibc or 'not glibc'}; expected glibc 2.x")
        minor = int(match.group(1))
        return [f"manylinux_2_{level}_{self.machine}" for level in range(minor, 4, -1)] + [
            f"manylinux2014_{self.machine}",
            f"manylinux2010_{self.machine}",
            f"manylinux1_{self.machine}",
        ]


def _progress(message: str) -> None:
    print(f"[image] {message}", file=sys.stderr, flush=True)


def _run(command: list[str], what: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)
    if proc.returncode != 0:
        raise ImageBuildError(f"{what} failed ({' '.join(command[:4])} ...):\n{(proc.stderr or proc.stdout)[-3000:]}")
    return proc


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One builder at a time per cache entry (parallel test workers, a second shell)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# -- the Docker engine ------------------------------------------------------------------------------------


def docker_unreachable_reason() -> str | None:
    """None when a Docker engine answers `docker info`; otherwise one line saying why not."""
    docker = shutil.which("docker")
    if docker is None:
        return "no docker command on PATH"
    try:
        proc = subprocess.run(
            [docker, "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True, timeout=20, check=False
        )
    except subprocess.TimeoutExpired:
        return "docker info did not answer within 20s"
    if proc.returncode != 0 or not proc.stdout.strip():
        last_line = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return f"no Docker engine answers docker info ({last_line})"
    return None


def image_exists(tag: str) -> bool:
    """Whether the engine holds an image by this name."""
    return subprocess.run(["docker", "image", "inspect", tag], capture_output=True, check=False).returncode == 0


def image_size(tag: str) -> int:
    """The image's size in bytes, as the engine reports it (uncompressed, all layers)."""
    return int(_run(["docker", "image", "inspect", "--format", "{{.Size}}", tag], "docker image inspect").stdout)


# -- the Debian base ---------------------------------------------------------------------------------------


def apt_mirror(suite: str = DEBIAN_SUITE, etc_apt: Path = Path("/etc/apt")) -> str:
    """The Debian mirror apt uses for `suite` here (deb822 `.sources` or one-line `sources.list`)."""
    for sources in sorted(etc_apt.glob("sources.list.d/*.sources")):
        for stanza in re.split(r"\n\s*\n", sources.read_text()):
            fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", stanza, flags=re.MULTILINE))
            if suite in fields.get("Suites", "").split() and "deb" in fields.get("Types", "deb").split():
                return str(fields["URIs"].split()[0])
    for sources_list in [etc_apt / "sources.list", *sorted(etc_apt.glob("sources.list.d/*.list"))]:
        if not sources_list.is_file():
            continue
        for line in sources_list.read_text().splitlines():
            match = re.match(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+(\S+)\s", line)
            if match and match.group(2) == suite:
                return match.group(1)
    return FALLBACK_MIRROR


def debian_base_tag(suite: str = DEBIAN_SUITE) -> str:
    """The local base's image name: the suite and a digest of the recipe, so a recipe change rebuilds it."""
    recipe = json.dumps({"suite": suite, "packages": DEBIAN_PACKAGES, "trimmed": TRIMMED_PATHS})
    return f"ccloud-operator-base:{suite}-{hashlib.sha256(recipe.encode()).hexdigest()[:12]}"


def ensure_debian_base(suite: str = DEBIAN_SUITE) -> str:
    """Have the engine hold the local Debian base; bootstrap it only when no cached tarball exists."""
    tag = debian_base_tag(suite)
    tarball = cache_root() / "base" / f"{tag.split(':', 1)[1]}.tar"
    with _locked(tarball.with_suffix(".lock")):
        if image_exists(tag):
            return tag
        if not tarball.is_file():
            _bootstrap(suite, tarball)
        _progress(f"importing {tarball.name} as {tag}")
        with tarball.open("rb") as stream:
            proc = subprocess.run(["docker", "import", "-", tag], stdin=stream, capture_output=True, check=False)
        if proc.returncode != 0:
            raise ImageBuildError(f"docker import of {tarball} failed:\n{proc.stderr.decode(errors='replace')}")
    return tag


def _bootstrap(suite: str, tarball: Path) -> None:
    # debootstrap lives in /usr/sbin, which a non-login shell's PATH may lack.
    debootstrap = shutil.which("debootstrap", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
    if debootstrap is None:
        raise ImageBuildError(
            "debootstrap is not installed (apt-get install debootstrap), "
            "or build on a registry base: make image BASE_IMAGE=python:3.11.11-slim-bookworm"
        )
    if os.geteuid() != 0:
        raise ImageBuildError(
            "debootstrap needs root to make the local Debian base; "
            "run make image as root once, or use a registry base: make image BASE_IMAGE=python:3.11.11-slim-bookworm"
        )
    mirror = apt_mirror(suite)
    started = time.monotonic()
    _progress(f"debootstrap --variant=minbase {suite} from {mirror} (about a minute, once)")
    with tempfile.TemporaryDirectory(prefix="ccloud-base-", dir=tarball.parent) as work:
        rootfs = Path(work) / "rootfs"
        _run(
            [
                debootstrap,
                "--variant=minbase",
                f"--include={','.join(DEBIAN_PACKAGES)}",
                suite,
                str(rootfs),
                mirror,
            ],
            "debootstrap",
            timeout=1200,
        )
        for relative in TRIMMED_PATHS:
            shutil.rmtree(rootfs / relative, ignore_errors=True)
        for path in sorted((rootfs / "usr/share/doc").rglob("*"), reverse=True):
            if path.is_symlink() or (path.is_file() and path.name != "copyright"):
                path.unlink()
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()
        partial = tarball.with_suffix(".partial")
        _run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(partial), "."], "tar of the root filesystem")
        partial.rename(tarball)
    _progress(f"base bootstrapped in {time.monotonic() - started:.0f}s: {tarball}")


# -- the wheels --------------------------------------------------------------------------------------------


def base_python(base: str) -> BasePython:
    """Ask the base image which Python, C library and machine it has (no network, nothing kept)."""
    probe = (
        "import json, platform, sys; "
        "print(json.dumps(['%d.%d' % sys.version_info[:2], platform.libc_ver()[1], platform.machine()]))"
    )
    proc = _run(
        ["docker", "run", "--rm", "--network", "none", "--entrypoint", "python3", base, "-c", probe],
        f"asking {base} for its python3",
        timeout=120,
    )
    version, glibc, machine = json.loads(proc.stdout.strip().splitlines()[-1])
    return BasePython(version=version, glibc=glibc, machine=machine)


def _pip(*args: str) -> list[str]:
    return [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]


def dependency_wheels(target: BasePython, operator_wheel: Path) -> Path:
    """The operator's dependencies as wheels for `target`, pinned by constraints.txt, plus pip; cached."""
    repo = repo_root()
    constraints = repo / "constraints.txt"
    pip_version = _run(_pip("--version"), "pip --version").stdout.split()[1]
    key = hashlib.sha256(
        json.dumps(
            [constraints.read_text(), (repo / "pyproject.toml").read_text(), pip_version, target.__dict__]
        ).encode()
    ).hexdigest()[:12]
    directory = cache_root() / "wheels" / f"cp{target.version.replace('.', '')}-{target.machine}-{key}"
    with _locked(directory.with_suffix(".lock")):
        if (directory / ".complete").is_file():
            return directory
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        platforms = [flag for platform in target.platforms() for flag in ("--platform", platform)]
        _progress(f"downloading dependency wheels for Python {target.version} ({target.machine})")
        _run(
            _pip(
                "download",
                "--quiet",
                "--only-binary=:all:",
                *platforms,
                "--python-version",
                target.version,
                "--implementation",
                "cp",
                "--constraint",
                str(constraints),
                "--dest",
                str(directory),
                str(operator_wheel),
                f"pip=={pip_version}",
            ),
            "pip download of the dependency wheels",
            timeout=600,
        )
        # The operator's own wheel comes fresh from the source on every build, never from this cache.
        for stale in directory.glob("ccloud_operator-*.whl"):
            stale.unlink()
        (directory / ".complete").touch()
    return directory


def operator_wheel(into: Path) -> Path:
    """Build the operator's wheel from the checkout into `into`."""
    _run(
        _pip("wheel", "--quiet", "--no-deps", "--wheel-dir", str(into), str(repo_root())),
        "building the operator's wheel",
        timeout=300,
    )
    (wheel,) = into.glob("ccloud_operator-*.whl")
    return wheel


# -- the image ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BuiltImage:
    tag: str
    base: str
    size_bytes: int
    seconds: float


def build_image(tag: str = DEFAULT_TAG, base: str | None = None) -> BuiltImage:
    """Build the operator's image from `base` (default: the local Debian base) and return what was built."""
    reason = docker_unreachable_reason()
    if reason is not None:
        raise ImageBuildError(reason)
    started, started_at = time.monotonic(), int(time.time())
    base = base or ensure_debian_base()
    target = base_python(base)
    with tempfile.TemporaryDirectory(prefix="ccloud-image-") as work:
        context = Path(work) / "context"
        for part in ("operator", "wheels", "pip"):
            (context / part).mkdir(parents=True)
        wheel = operator_wheel(context / "operator")
        for dependency in dependency_wheels(target, wheel).glob("*.whl"):
            part = "pip" if dependency.name.startswith("pip-") else "wheels"
            shutil.copy2(dependency, context / part / dependency.name)
        _progress(f"docker build {tag} on {base} (Python {target.version})")
        _run(
            [
                "docker",
                "build",
                # A failed step's container is removed too (the classic builder keeps it otherwise).
                "--force-rm",
                "--network",
                "none",
                "--file",
                str(repo_root() / "Dockerfile"),
                "--build-arg",
                f"BASE_IMAGE={base}",
                "--tag",
                tag,
                str(context),
            ],
            "docker build",
            timeout=1800,
        )
    _remove_earlier_leftovers(before=started_at)
    built = BuiltImage(tag=tag, base=base, size_bytes=image_size(tag), seconds=time.monotonic() - started)
    _progress(f"built {tag} in {built.seconds:.1f}s: {built.size_bytes / 1e6:.0f} MB on {base}")
    return built


def _remove_earlier_leftovers(before: int) -> None:
    """Remove the untagged images earlier builds left: the image a rebuild untagged, and build stages.

    The classic builder keeps both, some 200 MB a build. Only untagged images made before this build
    started go, so this build's stage, which holds the dependency layer a next build reuses, stays.
    """
    for title in ("ccloud-operator", "ccloud-operator-build"):
        _run(
            [
                "docker",
                "image",
                "prune",
                "--force",
                "--filter",
                f"label=org.opencontainers.image.title={title}",
                "--filter",
                f"until={before}",
            ],
            "docker image prune",
        )


# -- the command line --------------------------------------------------------------------------------------


def register(subparsers: Any) -> None:
    """Add `image build` to the top-level parser."""
    parser = subparsers.add_parser("image", help="build the operator's container image with the local Docker engine")
    commands = parser.add_subparsers(dest="image_command", required=True)
    build_parser = commands.add_parser("build", help="build it; prints the image name last")
    build_parser.add_argument("--tag", default=DEFAULT_TAG, help=f"the image name (default {DEFAULT_TAG})")
    build_parser.add_argument(
        "--base",
        default=os.environ.get(BASE_ENV) or None,
        help=f"the base image, with a python3 (default: ${BASE_ENV}, else a local Debian base made with debootstrap)",
    )
    build_parser.set_defaults(handler=handle_build)
    status_parser = commands.add_parser(
        "status", help="say whether the image and node tests can run here (exit 3 when no Docker engine answers)"
    )
    status_parser.set_defaults(handler=handle_status)


def handle_build(args: argparse.Namespace) -> int:
    """Build the image; progress goes to stderr, the image name to stdout."""
    try:
        built = build_image(tag=args.tag, base=args.base or None)
    except ImageBuildError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(built.tag)
    return 0


def handle_status(args: argparse.Namespace) -> int:
    """One line each: whether the image test, and the chart-on-a-node test, can run here."""
    from ccloud_sandbox.node import missing_host_packages  # here: the node module imports the control plane

    reason = docker_unreachable_reason()
    if reason is not None:
        print(f"image and node tests: skipped, {reason}")
        return EXIT_NO_ENGINE
    version = _run(["docker", "info", "--format", "{{.ServerVersion}}"], "docker info").stdout.strip()
    print(f"image test: runs, Docker engine {version}")
    missing = missing_host_packages()
    if os.geteuid() != 0:
        print("node test: skipped, needs root")
    elif missing:
        print(f"node test: skipped, missing Debian packages (apt-get install {' '.join(missing)})")
    else:
        print("node test: runs")
    return 0
