"""Prometheus metrics of the service (reference: docs/operations.md#metrics).

Nothing here registers in prometheus_client's global registry: each HTTP app has a registry of
its own (tests build many apps in one process), and the counters of the components that
outlive an app — ingestion, index rebuilds, LLM calls — belong to the component itself,
created unregistered, and are read by the app's collector at scrape time (so a rebuild made
while the collection opens, before any app exists, is counted too)."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics_core import Metric

from newsdesk.domain import IngestReport

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

# Seconds. Wider than the client's default (which stops at 10 s): answers and summaries from a
# local LLM on a CPU take tens of seconds, rebuilds of large collections minutes.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class Collectable(Protocol):
    def collect(self) -> Iterable[Metric]: ...


class ComponentMetrics:
    """Unregistered metrics owned by one component; ``collect`` yields them all."""

    def _parts(self) -> Iterable[Collectable]:
        return ()

    def collect(self) -> Iterator[Metric]:
        for part in self._parts():
            yield from part.collect()


class IngestMetrics(ComponentMetrics):
    """Owned by the Ingestor: articles by outcome, chunks written."""

    def __init__(self) -> None:
        self.articles = Counter(
            "newsdesk_ingest_articles",
            "Articles ingested, by outcome: added, updated, unchanged, rejected.",
            ["outcome"],
            registry=None,
        )
        for outcome in ("added", "updated", "unchanged", "rejected"):
            self.articles.labels(outcome)  # present at 0 from the start
        self.chunks = Counter(
            "newsdesk_ingest_chunks", "Chunks written (embedded) by ingestion.", registry=None
        )

    def record(self, report: IngestReport) -> None:
        self.articles.labels("added").inc(len(report.added))
        self.articles.labels("updated").inc(len(report.updated))
        self.articles.labels("unchanged").inc(len(report.unchanged))
        self.articles.labels("rejected").inc(len(report.rejected))
        self.chunks.inc(report.chunks)

    def _parts(self) -> Iterable[Collectable]:
        return (self.articles, self.chunks)


REBUILD_KINDS = ("full", "vectors", "lexical")


class RebuildMetrics(ComponentMetrics):
    """Owned by the derived indexes: rebuilds from SQLite and their time, by kind."""

    def __init__(self) -> None:
        self.rebuilds = Counter(
            "newsdesk_index_rebuilds",
            "Rebuilds of the derived indexes from SQLite, by kind: full (both, at start when "
            "the snapshot is missing or stale), vectors (the faiss index: within a full "
            "rebuild, after a write an index type cannot apply in place, or in the background: "
            "exact to HNSW, HNSW without its deleted vectors), lexical (the BM25 base, in the "
            "background after enough writes).",
            ["kind"],
            registry=None,
        )
        self.seconds = Histogram(
            "newsdesk_index_rebuild_duration_seconds",
            "Time a rebuild took, by kind.",
            ["kind"],
            buckets=LATENCY_BUCKETS,
            registry=None,
        )
        for kind in REBUILD_KINDS:
            self.rebuilds.labels(kind)
            self.seconds.labels(kind)

    @contextmanager
    def timed(self, kind: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.rebuilds.labels(kind).inc()
        self.seconds.labels(kind).observe(time.perf_counter() - started)

    def count(self, kind: str) -> int:
        """Rebuilds of this kind so far."""
        for metric in self.rebuilds.collect():
            for sample in metric.samples:
                if sample.name.endswith("_total") and sample.labels.get("kind") == kind:
                    return int(sample.value)
        return 0

    def _parts(self) -> Iterable[Collectable]:
        return (self.rebuilds, self.seconds)


class _Rebuilding(Protocol):
    rebuild_metrics: RebuildMetrics


def timed_rebuild(
    kind: str,
) -> Callable[[Callable[Concatenate[Any, P], R]], Callable[Concatenate[Any, P], R]]:
    """Decorates a rebuild method of an object with a ``rebuild_metrics``: counts and times
    each call that returns (without touching the method's body)."""

    def decorate(method: Callable[Concatenate[Any, P], R]) -> Callable[Concatenate[Any, P], R]:
        @functools.wraps(method)
        def timed(self: _Rebuilding, *args: P.args, **kwargs: P.kwargs) -> R:
            with self.rebuild_metrics.timed(kind):
                return method(self, *args, **kwargs)

        return timed

    return decorate


class LlmMetrics(ComponentMetrics):
    """Owned by the monitored chat model: calls by kind and outcome, and their duration.
    ``unavailable``: the exception of a call refused without reaching the LLM (its server
    restarting, its circuit open), counted apart from the LLM's own failures."""

    def __init__(self, unavailable: type[Exception] | None = None) -> None:
        self.unavailable = unavailable
        self.calls = Counter(
            "newsdesk_llm_calls",
            "Calls to the LLM, by call (complete, stream) and outcome (ok; error: failed after "
            "the client's retries; unavailable: refused at once, the LLM restarting or its "
            "circuit open; abandoned: a stream its reader stopped).",
            ["call", "outcome"],
            registry=None,
        )
        self.seconds = Histogram(
            "newsdesk_llm_call_duration_seconds",
            "Time an LLM call took (a stream: until its last token), by call.",
            ["call"],
            buckets=LATENCY_BUCKETS,
            registry=None,
        )
        for call in ("complete", "stream"):
            self.seconds.labels(call)
            for outcome in ("ok", "error", "unavailable"):
                self.calls.labels(call, outcome)

    @contextmanager
    def timed(self, call: str) -> Iterator[None]:
        started = time.perf_counter()
        outcome = "abandoned"
        try:
            yield
            outcome = "ok"
        except Exception as exc:
            if self.unavailable is not None and isinstance(exc, self.unavailable):
                outcome = "unavailable"
                raise
            outcome = "error"
            # The error's message may quote the endpoint's reply (which can echo the prompt),
            # so only its kind is logged; /health shows the message to key holders.
            log.warning(
                "LLM %s call failed after %.1f s: %s",
                call,
                time.perf_counter() - started,
                type(exc).__name__,
            )
            raise
        finally:
            seconds = time.perf_counter() - started
            self.calls.labels(call, outcome).inc()
            self.seconds.labels(call).observe(seconds)

    def _parts(self) -> Iterable[Collectable]:
        return (self.calls, self.seconds)


JUDGE_OUTCOMES = ("ok", "malformed", "failed", "timeout")
JUDGE_VERDICTS = ("supported", "unsupported", "unknown")


class JudgeMetrics(ComponentMetrics):
    """Owned by the LLM judge: its passes by outcome, and the verdicts it gave."""

    def __init__(self) -> None:
        self.passes = Counter(
            "newsdesk_llm_judge_passes",
            "LLM judge passes (one per answer or summary), by outcome: ok; malformed: the "
            "reply was not the JSON asked for; failed: the call failed; timeout: it ran out of "
            "time. Every outcome but ok leaves the verdicts `unknown`.",
            ["outcome"],
            registry=None,
        )
        self.verdicts = Counter(
            "newsdesk_llm_judge_verdicts",
            "Sentence verdicts of the LLM judge: supported, unsupported, unknown.",
            ["verdict"],
            registry=None,
        )
        for outcome in JUDGE_OUTCOMES:
            self.passes.labels(outcome)
        for verdict in JUDGE_VERDICTS:
            self.verdicts.labels(verdict)

    def _parts(self) -> Iterable[Collectable]:
        return (self.passes, self.verdicts)


class HttpMetrics:
    """Registered in one app's registry: requests by method, route template and status."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ["method", "route", "status"]
        self.requests = Counter(
            "newsdesk_http_requests",
            "HTTP requests answered, by method, route template (`unmatched`: none) and status.",
            labels,
            registry=registry,
        )
        self.seconds = Histogram(
            "newsdesk_http_request_duration_seconds",
            "Time from a request's arrival to the last byte of its response (a stream's too), "
            "by method, route template and status.",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.in_progress = Gauge(
            "newsdesk_http_requests_in_progress", "HTTP requests being served.", registry=registry
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.seconds.labels(method, route, str(status)).observe(seconds)
