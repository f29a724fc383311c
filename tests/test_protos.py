"""The contracts: generated code in sync, and the buf style rules the project follows."""

from __future__ import annotations

import filecmp
import sys
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "protos"
sys.path.insert(0, str(ROOT / "scripts"))

from gen_protos import generate  # noqa: E402


def test_committed_generated_code_matches_a_fresh_generation(tmp_path: Path) -> None:
    generate(tmp_path)
    for package in ("footcds/v1", "buf/validate"):
        fresh = tmp_path / package
        committed = ROOT / "gen" / package
        names = sorted(p.name for p in fresh.iterdir() if p.is_file())
        assert names == sorted(p.name for p in committed.iterdir() if p.is_file() and p.suffix in {".py", ".pyi"})
        _, mismatch, errors = filecmp.cmpfiles(fresh, committed, names, shallow=False)
        assert not mismatch and not errors, f"run `make protos`: {mismatch or errors} differ"


@pytest.fixture(scope="module")
def descriptors(tmp_path_factory: pytest.TempPathFactory) -> descriptor_pb2.FileDescriptorSet:
    import grpc_tools

    out = tmp_path_factory.mktemp("desc") / "set.pb"
    protos = sorted(str(p.relative_to(PROTO_DIR)) for p in (PROTO_DIR / "footcds" / "v1").glob("*.proto"))
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    assert protoc.main(["protoc", f"-I{PROTO_DIR}", f"-I{well_known}", "--include_source_info",
                        f"--descriptor_set_out={out}", *protos]) == 0
    return descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())


def _comments(file: descriptor_pb2.FileDescriptorProto) -> dict[tuple[int, ...], str]:
    return {tuple(loc.path): loc.leading_comments.strip() for loc in file.source_code_info.location}


def test_every_message_field_and_enum_value_is_commented(descriptors: descriptor_pb2.FileDescriptorSet) -> None:
    missing = []
    for file in descriptors.file:
        comments = _comments(file)
        for mi, message in enumerate(file.message_type):
            if not comments.get((4, mi)):
                missing.append(f"{file.name}: message {message.name}")
            for fi, field in enumerate(message.field):
                if not comments.get((4, mi, 2, fi)):
                    missing.append(f"{file.name}: {message.name}.{field.name}")
        for ei, enum in enumerate(file.enum_type):
            for vi, value in enumerate(enum.value):
                if not comments.get((5, ei, 2, vi)):
                    missing.append(f"{file.name}: {enum.name}.{value.name}")
    assert not missing, missing


def test_buf_style(descriptors: descriptor_pb2.FileDescriptorSet) -> None:
    for file in descriptors.file:
        assert file.package == "footcds.v1"
        assert len(file.service) <= 1, f"{file.name}: one service per file"
        for enum in file.enum_type:
            prefix = "".join("_" + c if c.isupper() else c for c in enum.name).lstrip("_").upper()
            assert enum.value[0].number == 0 and enum.value[0].name == f"{prefix}_UNSPECIFIED", enum.name
            assert all(v.name.startswith(prefix + "_") for v in enum.value), enum.name
        for service in file.service:
            for method in service.method:
                assert method.input_type == f".footcds.v1.{method.name}Request"
                assert method.output_type == f".footcds.v1.{method.name}Response"


def test_every_response_carries_kb_version_and_disclaimer(descriptors: descriptor_pb2.FileDescriptorSet) -> None:
    for file in descriptors.file:
        for message in file.message_type:
            if message.name.endswith("Response"):
                names = {f.name for f in message.field}
                assert {"kb_version", "disclaimer"} <= names, message.name
