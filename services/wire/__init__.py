"""Wire conversion: the clinical values (``services.knowledge.clinical``) to and from protobuf.

Separate from the platform code (``services.platform``) and from the domain: ``convert`` maps
shapes, ``encoding`` holds the one hand-written serializer (the ranked differential, checked
field by field against protobuf in tests/test_fast_paths.py), ``batch`` the per-item loop.
"""
