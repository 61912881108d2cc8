"""The events worker/events.c builds validate against schema/*.json.

tests/unit/test_events.c builds completion, usage and alert events for
sample jobs of every status (and checks their bytes against the jansson
builder they replaced); run with TG_EVENTS_DUMP it writes them out, and
this validates each against its JSON Schema, with the "#tg:spent:<i>#"
markers replaced by numbers as ledger/lua/finish.lua does.

Needs no stack, only the build (TOLLGATE_BUILD_DIR):
    python3 -m pytest -q tests/integration/test_event_schemas.py
"""

import json
import os
import re
import subprocess

from conftest import REPO
from tgstack import binary

SCHEMAS = {"usage": "usage.v1.schema.json",
           "completion": "completion.v1.schema.json",
           "alert": "alert.v1.schema.json"}


def validator(kind):
    from jsonschema import Draft202012Validator
    schema = json.loads((REPO / "schema" / SCHEMAS[kind]).read_text())
    return Draft202012Validator(schema,
                                format_checker=Draft202012Validator.FORMAT_CHECKER)


def test_built_events_validate(tmp_path):
    out = tmp_path / "events.txt"
    r = subprocess.run([binary("test_events")], cwd=REPO, capture_output=True,
                       text=True, env={**os.environ, "TG_EVENTS_DUMP": str(out)},
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    seen = set()
    for line in out.read_text().splitlines():
        kind, text = line.split(" ", 1)
        text = re.sub(r'"#tg:spent:(\d+)#"', lambda m: str(int(m.group(1)) * 1000),
                      text)
        doc = json.loads(text)
        errors = [e.message for e in validator(kind).iter_errors(doc)]
        assert not errors, f"{kind} event breaks its schema: {errors}\n{text}"
        seen.add(doc.get("decision") or doc.get("status") or kind)
    assert {"approved", "rejected_budget", "invalid", "failed", "completed",
            "rejected", "alert"} <= seen
