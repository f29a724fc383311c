"""Generate the Python code for protos/footcds/v1 into gen/ (one package, `footcds.v1`).

Also ``buf.validate`` (protos/buf/validate/validate.proto, the protovalidate rules our protos
are annotated with): the PyPI ``protovalidate`` 1.x wheel imports ``buf.validate.validate_pb2``
but does not ship it, so it is generated here from the .proto vendored from the same release's
source distribution (protos/buf/validate/README.md).

Used by `make protos` and by the drift test, which generates into a temporary folder and
compares with the committed code.
"""

from __future__ import annotations

import sys
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"


def generate(out_dir: Path) -> None:
    package_dir = out_dir / "footcds" / "v1"
    validate_dir = out_dir / "buf" / "validate"
    for folder in (package_dir, validate_dir):
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*_pb2*"):
            stale.unlink()
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in (PROTO_ROOT / "footcds" / "v1").glob("*.proto"))
    import grpc_tools

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    grpc_stub_plugin = Path(sys.executable).parent / "protoc-gen-mypy_grpc"
    code = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{PROTO_ROOT}",
            f"-I{well_known}",
            f"--python_out={out_dir}",
            f"--pyi_out={out_dir}",
            f"--grpc_python_out={out_dir}",
            f"--plugin=protoc-gen-mypy_grpc={grpc_stub_plugin}",
            f"--mypy_grpc_out={out_dir}",
            *protos,
        ]
    )
    if code == 0:  # buf.validate: messages only (no services), so no gRPC stubs
        code = protoc.main(["grpc_tools.protoc", f"-I{PROTO_ROOT}", f"-I{well_known}", f"--python_out={out_dir}",
                            f"--pyi_out={out_dir}", "buf/validate/validate.proto"])
    if code != 0:
        raise SystemExit(f"protoc failed with exit code {code}")
    (out_dir / "footcds" / "__init__.py").write_text('"""Generated FootCDS protocol code."""\n')
    (package_dir / "__init__.py").write_text('"""Generated from protos/footcds/v1 by `make protos`; do not edit."""\n')
    (out_dir / "buf" / "__init__.py").write_text('"""Generated protovalidate rule messages."""\n')
    (validate_dir / "__init__.py").write_text('"""Generated from protos/buf/validate by `make protos`."""\n')


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "gen")
