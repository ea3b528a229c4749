"""Generates the Python stubs of proto/ into postersearch/v1/, or checks that they are current.

Usage:
    python scripts/gen_proto.py          # regenerate
    python scripts/gen_proto.py --check  # exit 1 when the committed stubs are stale
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
PACKAGE_DIR = Path("postersearch") / "v1"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi")


def _grpc_stub_plugin() -> str:
    """mypy-protobuf's protoc plugin, which types the *_pb2_grpc modules (.pyi)."""
    # Beside this Python first: the plugin is a console script of the same environment.
    beside = Path(sys.executable).parent / "protoc-gen-mypy_grpc"
    found = str(beside) if beside.exists() else shutil.which("protoc-gen-mypy_grpc")
    if found is None:
        raise SystemExit("protoc-gen-mypy_grpc not found: pip install the dev extra")
    return found


def generate(out_dir: Path) -> list[Path]:
    """Runs protoc over every .proto file, writing the stubs under out_dir."""
    protos = sorted(PROTO_ROOT.rglob("*.proto"))
    include = str(Path(protoc.__file__).parent / "_proto")
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        f"--plugin=protoc-gen-mypy_grpc={_grpc_stub_plugin()}",
        f"--mypy_grpc_out={out_dir}",
        *[str(p) for p in protos],
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    return sorted(
        p for p in (out_dir / PACKAGE_DIR).iterdir() if p.name.endswith(GENERATED_SUFFIXES)
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if stubs are stale")
    check = parser.parse_args().check
    target = ROOT / PACKAGE_DIR
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(Path(tmp))
        committed = sorted(p for p in target.glob("*") if p.name.endswith(GENERATED_SUFFIXES))
        if check:
            stale = [p.name for p in fresh if not (target / p.name).exists()]
            stale += [
                p.name
                for p in fresh
                if (target / p.name).exists() and not filecmp.cmp(p, target / p.name, shallow=False)
            ]
            extra = {p.name for p in committed} - {p.name for p in fresh}
            if stale or extra:
                print(
                    f"stale generated stubs: {sorted(stale) + sorted(extra)}; "
                    "run: python scripts/gen_proto.py",
                    file=sys.stderr,
                )
                return 1
            print("generated stubs are current")
            return 0
        target.mkdir(parents=True, exist_ok=True)
        for old in committed:
            old.unlink()
        for path in fresh:
            shutil.copy(path, target / path.name)
        print(f"wrote {len(fresh)} files to {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
