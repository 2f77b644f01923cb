"""`newsdesk bench …`: measurements that print figures as JSON and assert nothing.

Each subcommand has a module of its own here (``embed``, ``ingest``, ``search``, ``http``)
with a ``run(...) -> dict`` that the CLI (newsdesk/api/bench_cli.py) prints. Shared pieces:
``corpus`` (seeded synthetic news articles from the shipped FRANK suite) and ``machine``
(what the figures were measured on). Every run measures its baseline in the same invocation,
so ratios hold under the shared machine's noise while absolute figures carry the load average.
"""
