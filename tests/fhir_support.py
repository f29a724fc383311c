"""Typed access to a FHIR Bundle's resources for the tests that read one back.

Why: fhir.resources types ``Bundle.entry`` and ``BundleEntry.resource`` as optional (a FHIR
entry may legally lack a resource); a bundle FootCDS writes always has both, so the helper
asserts that, failing the test with a clear message instead of a TypeError on ``None``.
"""

from __future__ import annotations

from typing import TypeVar

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.resource import Resource

R = TypeVar("R", bound=Resource)


def bundle_resources(bundle: Bundle) -> list[Resource]:
    """Every entry's resource, in order."""
    assert bundle.entry is not None, "the bundle has no entries"
    resources: list[Resource] = []
    for entry in bundle.entry:
        assert entry.resource is not None, "a bundle entry without its resource"
        resources.append(entry.resource)
    return resources


def resources_of(bundle: Bundle, kind: type[R]) -> list[R]:
    """The bundle's resources of one FHIR type, picked by resourceType."""
    found: list[R] = []
    for resource in bundle_resources(bundle):
        if resource.get_resource_type() == kind.get_resource_type():
            assert isinstance(resource, kind), f"a {kind.get_resource_type()} not parsed as {kind.__name__}"
            found.append(resource)
    return found
