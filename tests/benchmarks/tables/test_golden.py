"""The harness split into benchmarks/tables/ writes what the single reproduce.py wrote: the
outputs of :mod:`tests.benchmarks.tables.golden` (Tables 1-3 through the command line with
every cell 'not run', Tables 2-3 at the full budget on tiny data, the shrunk configs of the SSDD
and Sen1Floods11 tasks, merged repeats and their markdown) equal ``golden.json``, written by
the same module before the split. Wall-clock fields (``seconds``) and temporary paths are left
out; nothing else is."""

from __future__ import annotations

import json
from pathlib import Path

from tests.benchmarks.tables.golden import golden_outputs


def test_outputs_equal_those_written_before_the_split():
    golden = json.loads(Path(__file__).with_name("golden.json").read_text())
    outputs = golden_outputs()
    assert sorted(outputs) == sorted(golden)
    for name, text in outputs.items():
        assert text == golden[name], name
