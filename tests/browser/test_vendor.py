"""The vendored axe-core is the file its note names."""

import hashlib
from pathlib import Path

AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"


def test_vendored_axe_core_matches_its_checksum():
    digest = hashlib.sha256(AXE.read_bytes()).hexdigest()
    note = (AXE.parent.parent / "README.md").read_text()
    assert digest == "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
    assert digest in note
