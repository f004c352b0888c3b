"""Generates libs/contracts/src from protos/ (`make proto`); the drift test calls `generate`."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc  # type: ignore[import-untyped]

REPO_ROOT = Path(__file__).resolve().parents[4]
PROTOS_DIR = REPO_ROOT / "protos"
CONTRACTS_SRC = REPO_ROOT / "libs" / "contracts" / "src"
GENERATED_PACKAGE = "crm"


def proto_files() -> list[Path]:
    return sorted(PROTOS_DIR.rglob("*.proto"))


def generate(out_dir: Path) -> None:
    """Write `crm/...` pb2, grpc and .pyi modules (with package __init__ files) under out_dir."""
    include = str(Path(protoc.__file__).parent / "_proto")
    files = [str(p.relative_to(PROTOS_DIR)) for p in proto_files()]
    args = [
        "protoc",
        f"-I{PROTOS_DIR}",
        f"-I{include}",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        f"--mypy_out={out_dir}",
        f"--mypy_grpc_out={out_dir}",
        *files,
    ]
    if protoc.main(args) != 0:
        raise RuntimeError("protoc failed")
    for package in [out_dir / GENERATED_PACKAGE, *(out_dir / GENERATED_PACKAGE).rglob("*")]:
        if package.is_dir():
            (package / "__init__.py").touch()
    for stray in (out_dir / GENERATED_PACKAGE).rglob("*_pb2_grpc.py"):
        # grpc_python_out writes no .pyi; mypy_grpc_out writes it beside the module.
        if not stray.with_suffix(".pyi").exists():
            raise RuntimeError(f"missing stub for {stray}")


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        target = CONTRACTS_SRC / GENERATED_PACKAGE
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(Path(tmp) / GENERATED_PACKAGE, target)
    print(f"generated {target.relative_to(REPO_ROOT)} from {len(proto_files())} proto files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
