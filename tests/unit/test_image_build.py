"""The pure parts of `make image`: which Debian mirror, which wheel platforms, which base name."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccloud_sandbox.image import FALLBACK_MIRROR, BasePython, ImageBuildError, apt_mirror, debian_base_tag


def test_the_mirror_comes_from_the_deb822_stanza_that_serves_the_suite_not_from_the_security_one(
    tmp_path: Path,
) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n"
        "Components: main\n\n"
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n"
    )
    assert apt_mirror("bookworm", tmp_path) == "http://mirror.example/debian"


def test_a_one_line_sources_list_names_the_mirror_too(tmp_path: Path) -> None:
    (tmp_path / "sources.list").write_text(
        "# comment\ndeb [arch=amd64] http://old.example/debian bookworm main\n"
        "deb-src http://src.example bookworm main\n"
    )
    assert apt_mirror("bookworm", tmp_path) == "http://old.example/debian"


def test_without_a_source_for_the_suite_the_mirror_is_debians_own(tmp_path: Path) -> None:
    (tmp_path / "sources.list").write_text("deb http://old.example/debian bullseye main\n")
    assert apt_mirror("bookworm", tmp_path) == FALLBACK_MIRROR


def test_wheels_are_fetched_for_every_manylinux_level_the_bases_glibc_runs() -> None:
    platforms = BasePython(version="3.11", glibc="2.36", machine="x86_64").platforms()
    assert platforms[0] == "manylinux_2_36_x86_64"
    assert "manylinux_2_17_x86_64" in platforms and "manylinux2014_x86_64" in platforms
    assert "manylinux_2_37_x86_64" not in platforms


def test_a_base_without_glibc_2_such_as_a_musl_one_is_refused() -> None:
    with pytest.raises(ImageBuildError):
        BasePython(version="3.11", glibc="", machine="x86_64").platforms()


def test_the_base_name_changes_with_the_recipe_and_names_the_suite() -> None:
    assert debian_base_tag("bookworm").startswith("ccloud-operator-base:bookworm-")
    assert debian_base_tag("bookworm") != debian_base_tag("trixie")
