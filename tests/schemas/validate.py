#!/usr/bin/env python3
"""Validate a JSON document against a vendored official schema (see README.md here).

usage: validate.py osv|osv-any-prefix|csaf|cve FILE
exit 0 valid, 1 invalid (errors on stdout), 2 no jsonschema (or, for cve, no cvelib).
osv-any-prefix: the OSV schema with only its registered-id-prefix rule relaxed (a project's
own prefix, e.g. EXAMPLE-2026-0001, is not one of the registered home databases).
cve: the CVE JSON 5 record schema as the PyPI package cvelib ships it (CVE_JSON_bundled_5.1.1),
used from the installed package, not copied here.
"""
import json
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent

try:
    import jsonschema
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4, DRAFT7
except ImportError as e:  # pragma: no cover
    print(f"python jsonschema is missing ({e}): pip install jsonschema", file=sys.stderr)
    sys.exit(2)


def load(name):
    return json.loads((HERE / name).read_text())


def cve_schema():
    try:
        import cvelib
    except ImportError as e:  # pragma: no cover
        print(f"python cvelib is missing ({e}): pip install cvelib", file=sys.stderr)
        sys.exit(2)
    path = pathlib.Path(cvelib.__file__).parent / "schemas" / "CVE_JSON_bundled_5.1.1.json"
    return json.loads(path.read_text())


def validator(kind):
    if kind == "cve":
        return jsonschema.Draft7Validator(cve_schema(), format_checker=jsonschema.FormatChecker())
    if kind.startswith("osv"):
        schema = load("osv.schema.json")
        if kind == "osv-any-prefix":
            schema["$defs"]["prefix"]["pattern"] = "^[A-Z][A-Z0-9]*-"
        return jsonschema.Draft202012Validator(schema)
    schema = load("csaf_2_0.schema.json")
    # CSAF 2.0 refers to the FIRST CVSS schemas by these URLs; serve the vendored copies.
    registry = Registry().with_resources(
        [
            ("https://www.first.org/cvss/cvss-v2.0.json", Resource(load("cvss_v2_0.schema.json"), DRAFT4)),
            ("https://www.first.org/cvss/cvss-v3.0.json", Resource(load("cvss_v3_0.schema.json"), DRAFT4)),
            ("https://www.first.org/cvss/cvss-v3.1.json", Resource(load("cvss_v3_1.schema.json"), DRAFT7)),
        ]
    )
    return jsonschema.Draft202012Validator(schema, registry=registry)


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("osv", "osv-any-prefix", "csaf", "cve"):
        print(__doc__, file=sys.stderr)
        return 64
    doc = json.loads(pathlib.Path(sys.argv[2]).read_text())
    errors = sorted(validator(sys.argv[1]).iter_errors(doc), key=lambda e: list(e.path))
    for e in errors:
        print(f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
