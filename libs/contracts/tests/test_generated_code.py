"""The checked-in generated code is exactly what `make proto` writes from protos/."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_devstack.protogen import CONTRACTS_SRC, GENERATED_PACKAGE, PROTOS_DIR, generate

pytestmark = pytest.mark.unit

REGENERATE = "run `make proto` and commit libs/contracts/src/crm"


def generated_files(root: Path) -> dict[str, bytes]:
    """Every generated file under root/crm by its path relative to root (caches skipped)."""
    package = root / GENERATED_PACKAGE
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(package.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    out_dir = tmp_path_factory.mktemp("protogen")
    generate(out_dir)
    return generated_files(out_dir)


@pytest.fixture(scope="module")
def checked_in() -> dict[str, bytes]:
    return generated_files(CONTRACTS_SRC)


class TestGeneratedCode:
    def test_same_files_as_a_fresh_generation(
        self, fresh: dict[str, bytes], checked_in: dict[str, bytes]
    ) -> None:
        missing = sorted(fresh.keys() - checked_in.keys())
        stale = sorted(checked_in.keys() - fresh.keys())

        assert not missing, f"generated files missing for protos/ ({missing}); {REGENERATE}"
        assert not stale, f"generated files with no .proto left ({stale}); {REGENERATE}"

    def test_same_bytes_as_a_fresh_generation(
        self, fresh: dict[str, bytes], checked_in: dict[str, bytes]
    ) -> None:
        changed = sorted(
            name for name in fresh.keys() & checked_in.keys() if fresh[name] != checked_in[name]
        )

        assert not changed, f"generated code drifted from protos/ ({changed}); {REGENERATE}"

    def test_every_proto_has_a_generated_module(self, checked_in: dict[str, bytes]) -> None:
        protos = sorted(PROTOS_DIR.rglob("*.proto"))
        expected = {
            proto.relative_to(PROTOS_DIR).with_name(f"{proto.stem}_pb2.py").as_posix()
            for proto in protos
        }

        assert protos, f"no .proto files found under {PROTOS_DIR}"
        assert expected <= checked_in.keys(), (
            f"no generated module for {sorted(expected - checked_in.keys())}; {REGENERATE}"
        )

    def test_every_generated_package_has_an_init(self, checked_in: dict[str, bytes]) -> None:
        packages = {name.rsplit("/", 1)[0] for name in checked_in}

        assert {f"{package}/__init__.py" for package in packages} <= checked_in.keys()
