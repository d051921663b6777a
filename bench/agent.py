"""Benchmark of the company-graph agent against the local Messages-API stand-in.

    python bench/agent.py            # readable table
    python bench/agent.py --json     # one JSON object on stdout

The documents are **simulated**: one generated filing-style text per company of the real
universe, naming other real companies as suppliers, customers and competitors. The LLM is
:mod:`axiom.testing.anthropic_fake` driven through the real ``anthropic`` SDK; its
answers come from the rule extractor, its transport is what is measured.

1. LLM stage: N companies through the whole workflow (retrieve, extract, resolve,
   validate, publish) against an endpoint with 2 s latency and a 4,000 requests/min
   limit, client held to the same limit: companies/min and 429s received.
2. Re-run over the unchanged documents: LLM calls made (the target is 0).
   Then at the limit: three documents for every company of the universe with 200
   requests in flight, more than 4,000/min offered: the limiter sets the pace, 0 x 429.
3. The LLM stage of 1. on a pool of 10 threaded Ray actors (8 companies each at once).
4. Sequential vs a Ray pool of 10 actors for the same I/O-bound per-company work (1 s
   per answer), measured in the same run on warm workers: speed-up.
Peak RSS of this process and of the Ray actors is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

from axiom.agents.costs import CostGovernor
from axiom.agents.documents import Document
from axiom.agents.extractors.rules import extract_text
from axiom.agents.worker import PIPELINE, AgentFactory, AgentResources, CompanyJob
from axiom.compute.local import LocalExecutor
from axiom.domain.models import Company
from axiom.settings import Settings
from axiom.sources.universe import load_universe
from axiom.testing.anthropic_fake import FakeAnthropicServer

MODEL = "anthropic:claude-haiku-4-5"


def simulated_jobs(companies: list[Company], n: int, seed: int = 7) -> list[CompanyJob]:
    """One generated (simulated) document per company, naming real counterparties."""
    rng = random.Random(seed)
    picked = rng.sample(companies, n)
    names = [c.name for c in companies]
    jobs = []
    for c in picked:
        sup, cust, comp, part = rng.sample(names, 4)
        text = (
            f"{c.name} reported results for the year (simulated text).\n"
            f"{c.name} is a major supplier to {cust}.\n"
            f"{c.name} buys components from {sup}.\n"
            f"{c.name} competes with {comp} in its main markets.\n"
            f"Last year {c.name} announced a partnership with {part}.\n"
            f"Demand was stable and margins improved.\n"
        )
        jobs.append(CompanyJob(c.symbol, (Document(f"{c.symbol}.md", c.symbol, text),)))
    return jobs


def simulated_filings(companies: list[Company], seed: int = 17) -> list[CompanyJob]:
    """Three generated (simulated) documents for every company: report, news, release."""
    rng = random.Random(seed)
    names = [c.name for c in companies]
    jobs = []
    for c in companies:
        sup, cust, comp, part = rng.sample(names, 4)
        texts = {
            "report": f"{c.name} annual report (simulated text).\n"
            f"{c.name} is a major supplier to {cust}.\n{c.name} buys components from {sup}.\n",
            "news": f"Market news (simulated text).\n{c.name} competes with {comp} in its "
            f"main markets.\nAnalysts expect stable demand.\n",
            "release": f"Press release (simulated text).\nLast year {c.name} announced a "
            f"partnership with {part}.\n",
        }
        docs = tuple(Document(f"{c.symbol}-{k}.md", c.symbol, t) for k, t in texts.items())
        jobs.append(CompanyJob(c.symbol, docs))
    return jobs


def _settings(home: Path, **kw: Any) -> Settings:
    return Settings(home=home, llm=MODEL, **kw)


def _run_local(settings: Settings, jobs: list[CompanyJob], threads: int) -> tuple[float, list[Any]]:
    shared = AgentResources(settings, CostGovernor.from_settings(settings, PIPELINE))
    ex = LocalExecutor(threads)
    try:
        t0 = time.perf_counter()
        out = ex.map_workers(AgentFactory(settings, shared=shared), jobs)
        return time.perf_counter() - t0, out
    finally:
        ex.close()
        shared.close()


@contextmanager
def _limited_endpoint(home: Path, threads: int) -> Iterator[tuple[FakeAnthropicServer, Settings]]:
    """The endpoint with 2 s latency and 4,000 requests/min, and a client held to it."""
    with FakeAnthropicServer(responder=extract_text, latency_s=2.0, rpm_limit=4000) as fake:
        os.environ["ANTHROPIC_BASE_URL"] = fake.url
        yield (
            fake,
            _settings(
                home, llm_rpm=4000, llm_tpm=50_000_000, llm_concurrency=threads, llm_budget_usd=0
            ),
        )


def bench_llm_stage(home: Path, jobs: list[CompanyJob], threads: int) -> dict[str, Any]:
    with _limited_endpoint(home, threads) as (fake, settings):
        elapsed, outcomes = _run_local(settings, jobs, threads)
        first = fake.stats
        fake.reset_stats()
        rerun_s, again = _run_local(settings, jobs, threads)
        second = fake.stats
    done = sum(o.status == "done" for o in outcomes)
    return {
        "companies": len(jobs),
        "done": done,
        "elapsed_s": round(elapsed, 2),
        "companies_per_min": round(done / elapsed * 60),
        "requests": first.requests,
        "status_429": first.count(429),
        "max_in_flight": first.max_in_flight,
        "relations": sum(len(o.accepted) for o in outcomes),
        "cost_usd": round(sum(o.cost_usd for o in outcomes), 4),
        "rerun_s": round(rerun_s, 2),
        "rerun_llm_requests": second.requests,
        "rerun_cached_docs": sum(o.cached_docs for o in again),
    }


def bench_at_the_limit(home: Path, jobs: list[CompanyJob], threads: int) -> dict[str, Any]:
    """The LLM stage with more requests offered than the 4,000/min limit lets through.

    ``threads`` requests in flight at 2 s each offer ``threads / 2`` requests/s; above
    ~67/s the client-side limiter, not the latency, sets the pace, and the endpoint
    (same limit) must never answer 429.
    """
    with _limited_endpoint(home, threads) as (fake, settings):
        elapsed, outcomes = _run_local(settings, jobs, threads)
        stats = fake.stats
    done = sum(o.status == "done" for o in outcomes)
    return {
        "companies": len(jobs),
        "documents": sum(len(j.documents) for j in jobs),
        "done": done,
        "elapsed_s": round(elapsed, 2),
        "companies_per_min": round(done / elapsed * 60),
        "requests": stats.requests,
        "requests_per_min": round(stats.requests / elapsed * 60),
        "status_429": stats.count(429),
        "max_in_flight": stats.max_in_flight,
    }


def _actor_rss_mb() -> float:
    total = 0
    for p in psutil.process_iter(["cmdline", "memory_info"]):
        cmd = p.info.get("cmdline") or []
        if any("ray::_WorkerHost" in part for part in cmd) and p.info.get("memory_info"):
            total += p.info["memory_info"].rss
    return total / 2**20


def bench_ray_speedup(
    home: Path, seq_jobs: list[CompanyJob], jobs: list[CompanyJob], actors: int
) -> dict[str, Any]:
    from axiom.compute.ray import RayExecutor

    with FakeAnthropicServer(responder=extract_text, latency_s=1.0) as fake:
        os.environ["ANTHROPIC_BASE_URL"] = fake.url
        common = {"llm_rpm": 100_000, "llm_tpm": 500_000_000, "llm_budget_usd": 0}
        seq_s, seq = _run_local(
            _settings(home / "seq", llm_concurrency=1, **common), seq_jobs, threads=1
        )
        settings = _settings(home / "ray", agent_actors=actors, **common)
        ray_ex = RayExecutor("ray://local", workers=2, actors=actors)
        try:
            factory = AgentFactory(settings, shares=actors)
            t0 = time.perf_counter()
            ray_ex.map_workers(factory, jobs[:actors])  # start the actors, build workers
            warmup_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            pooled = ray_ex.map_workers(factory, jobs[actors:])
            pool_s = time.perf_counter() - t0
            actor_rss = _actor_rss_mb()
        finally:
            ray_ex.close()
    seq_per = seq_s / len(seq_jobs)
    pool_per = pool_s / len(pooled)
    return {
        "companies_sequential": len(seq_jobs),
        "sequential_s": round(seq_s, 2),
        "companies_pool": len(pooled),
        "pool_s": round(pool_s, 2),
        "pool_warmup_s": round(warmup_s, 2),
        "actors": actors,
        "speedup": round(seq_per / pool_per, 2),
        # the same with the pool's start (actors built on their first company) counted in
        "speedup_with_start": round(
            seq_per / ((warmup_s + pool_s) / (len(pooled) + min(actors, len(jobs)))), 2
        ),
        "all_done": all(o.status == "done" for o in [*seq, *pooled]),
        "actors_rss_mb": round(actor_rss),
    }


def bench_ray_llm_stage(
    home: Path, jobs: list[CompanyJob], actors: int, per_actor: int
) -> dict[str, Any]:
    """The LLM stage of (1) on a pool of threaded Ray actors, each with its own clients."""
    from axiom.compute.ray import RayExecutor

    with FakeAnthropicServer(responder=extract_text, latency_s=2.0, rpm_limit=4000) as fake:
        os.environ["ANTHROPIC_BASE_URL"] = fake.url
        settings = _settings(
            home, llm_rpm=4000, llm_tpm=50_000_000, llm_budget_usd=0,
            llm_concurrency=actors * per_actor, agent_actors=actors,
            agent_actor_concurrency=per_actor,
        )  # fmt: skip
        ray_ex = RayExecutor("ray://local", workers=2, actors=actors, actor_concurrency=per_actor)
        try:
            factory = AgentFactory(settings, shares=actors)
            t0 = time.perf_counter()
            ray_ex.map_workers(factory, jobs[:actors])
            warmup_s = time.perf_counter() - t0
            fake.reset_stats()
            t0 = time.perf_counter()
            outcomes = ray_ex.map_workers(factory, jobs[actors:])
            elapsed = time.perf_counter() - t0
            stats = fake.stats
        finally:
            ray_ex.close()
    done = sum(o.status == "done" for o in outcomes)
    return {
        "actors": actors,
        "per_actor": per_actor,
        "companies": len(outcomes),
        "done": done,
        "elapsed_s": round(elapsed, 2),
        "companies_per_min": round(done / elapsed * 60),
        "status_429": stats.count(429),
        "max_in_flight": stats.max_in_flight,
        "warmup_s": round(warmup_s, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--companies", type=int, default=800)
    ap.add_argument("--threads", type=int, default=64)
    ap.add_argument("--seq-companies", type=int, default=30)
    ap.add_argument("--ray-companies", type=int, default=210)
    ap.add_argument("--actors", type=int, default=10)
    ap.add_argument("--per-actor", type=int, default=8)
    ap.add_argument("--limit-companies", type=int, default=1786)
    ap.add_argument("--limit-threads", type=int, default=200)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("ANTHROPIC_API_KEY", "bench-key")
    universe = load_universe("all")
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        llm = bench_llm_stage(home / "llm", simulated_jobs(universe, args.companies), args.threads)
        limit = bench_at_the_limit(
            home / "limit", simulated_filings(universe)[: args.limit_companies], args.limit_threads
        )
        ray_ = bench_ray_speedup(
            home / "ray",
            simulated_jobs(universe, args.seq_companies, seed=5),
            simulated_jobs(universe, args.ray_companies, seed=11),
            args.actors,
        )
        ray_llm = bench_ray_llm_stage(
            home / "ray-llm",
            simulated_jobs(universe, args.companies + args.actors, seed=13),
            args.actors,
            args.per_actor,
        )
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "documents": "simulated",
        "llm_stage": llm,
        "at_the_limit": limit,
        "ray": ray_,
        "ray_llm_stage": ray_llm,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
        return
    print(f"LLM stage, 2 s latency, 4,000 RPM: {llm['companies_per_min']:,} companies/min "
          f"({llm['done']}/{llm['companies']} in {llm['elapsed_s']} s), "
          f"429s: {llm['status_429']}, max in flight {llm['max_in_flight']}")  # fmt: skip
    print(f"re-run over unchanged documents: {llm['rerun_llm_requests']} LLM requests, "
          f"{llm['rerun_cached_docs']} cached, {llm['rerun_s']} s")  # fmt: skip
    print(f"at the limit: {limit['documents']:,} documents of {limit['companies']:,} companies, "
          f"{limit['max_in_flight']} in flight: {limit['companies_per_min']:,} companies/min, "
          f"{limit['requests_per_min']:,} requests/min, 429s: {limit['status_429']} "
          f"({limit['elapsed_s']} s)")  # fmt: skip
    print(f"sequential {ray_['sequential_s']} s for {ray_['companies_sequential']} vs Ray pool "
          f"of {ray_['actors']} {ray_['pool_s']} s for {ray_['companies_pool']}: "
          f"{ray_['speedup']}x per company warm, {ray_['speedup_with_start']}x with the "
          f"pool's start (warm-up {ray_['pool_warmup_s']} s)")  # fmt: skip
    print(f"LLM stage on {ray_llm['actors']} Ray actors x {ray_llm['per_actor']}: "
          f"{ray_llm['companies_per_min']:,} companies/min, 429s: {ray_llm['status_429']}, "
          f"max in flight {ray_llm['max_in_flight']}, warm-up {ray_llm['warmup_s']} s")  # fmt: skip
    print(f"peak RSS: driver {result['peak_rss_mb']} MB, actors {ray_['actors_rss_mb']} MB")


if __name__ == "__main__":
    main()
