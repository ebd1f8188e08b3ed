"""Perdure's partition-fault suite.

Modules are self-contained; among them:
- history: the recorded-run file formats (history.jsonl, final.json, nemesis.jsonl) as typed
  records, and pairing each invocation with its completion.
- checker: proves from a recorded run that nothing acknowledged was lost, duplicated or
  reordered; returns results.json-ready dicts.
- report: writes results.json and summarizes several runs as a markdown table.
"""
