"""Throughput of the local process pool against a Dask LocalCluster on the same folder.

    python -m bench.dask_speed [FOLDER] [--limit 24] [--select CODES] [--repeat 2] [--workers 2]

Prints images per second (median of --repeat runs) for the local pool (--workers processes)
and for a loopback LocalCluster with 1 and --workers worker processes (one thread each) at a
few batch sizes, the scheduler's overhead per batch (empty batches), how fast the folder can
merely be read, and two correctness figures: whether the Dask report equals the local one
(timings aside), and how many images are lost or differ when a worker is killed mid-run.
The result cache is off throughout. Default folder: ../shared/corpus (read only); --limit
takes that many images spread evenly over the sorted list (0 = all); --select runs only
those rules (e.g. IMG,META: decoding-bound, to show the scheduler's share)."""
from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import os
import signal
import statistics
import time
from dataclasses import replace
from pathlib import Path

from checker.inputs import find_images
from checker.session import build_plan, run_paths

DEFAULT_FOLDER = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


def comparable(results) -> list[dict]:
    """Results as JSON, without what measures time rather than the image: timings_ms, and
    measurements a rule names *_ms (HAND001 reports its analysis_ms)."""
    out = []
    for r in results:
        d = r.to_dict()
        d.pop("timings_ms")
        for finding in d["findings"]:
            finding["measurements"] = {k: v for k, v in finding["measurements"].items() if not k.endswith("_ms")}
        out.append(d)
    return out


def read_rate(paths: list[str]) -> tuple[float, float]:
    """Images/s and MB/s for reading and hashing only (page cache warm after the first run)."""
    started = time.perf_counter()
    total = 0
    for p in paths:
        data = Path(p).read_bytes()
        hashlib.sha256(data).digest()
        total += len(data)
    took = time.perf_counter() - started
    return len(paths) / took, total / took / 1e6


def scheduler_overhead_ms(client, plan, n_tasks: int = 200) -> tuple[float, float]:
    """(round trip of one empty batch at a time, cost per empty batch when many are in flight)."""
    from checker.dask import check_batch

    started = time.perf_counter()
    for _ in range(20):
        client.submit(check_batch, (), pure=False).result()
    sequential = (time.perf_counter() - started) / 20 * 1000.0
    started = time.perf_counter()
    futures = [client.submit(check_batch, (), pure=False) for _ in range(n_tasks)]
    client.gather(futures)
    pipelined = (time.perf_counter() - started) / n_tasks * 1000.0
    return sequential, pipelined


def killed_worker_run(cluster, paths, plan, reference) -> tuple[int, int]:
    """Kill one worker after the first result; return (images lost, results that differ)."""
    from distributed import Client

    with Client(cluster.scheduler_address, set_as_default=False) as client:
        pids = list(client.run(os.getpid).values())
        killed: list[int] = []

        def kill_once(_result) -> None:
            if not killed:
                killed.append(pids[0])
                os.kill(pids[0], signal.SIGKILL)

        results = run_paths(paths, plan, on_result=kill_once)
        client.wait_for_workers(len(pids), timeout=120)
    lost = len(set(paths) - {r.path for r in results})
    differ = sum(1 for a, b in zip(comparable(results), reference) if a != b)
    return lost, differ


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", nargs="?", default=str(DEFAULT_FOLDER))
    parser.add_argument("--limit", type=int, default=24)
    parser.add_argument("--select", default=None)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-sizes", default="1,4")
    args = parser.parse_args()

    from distributed import Client, LocalCluster

    paths = [str(p) for p in find_images([args.folder])[0]]
    if not paths:
        raise SystemExit(f"no images in {args.folder}")
    if 0 < args.limit < len(paths):
        step = len(paths) / args.limit
        paths = [paths[int(i * step)] for i in range(args.limit)]
    plan, _ = build_plan(paths, select=args.select.split(",") if args.select else None)
    plan = replace(plan, cache=False)
    rules = ", ".join(rp.rule.code for rp in plan.rules)
    print(f"folder: {args.folder}  images: {len(paths)}  rules: {rules}")
    print(f"machine: {os.cpu_count()} cores; runs per figure: {args.repeat} (median); result cache off")

    _ips, mbs = read_rate(paths)
    print(f"reading the files: {mbs:.0f} MB/s (page cache warm)")
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    sizes = sorted({1, args.workers})
    with contextlib.ExitStack() as stack:
        clusters = {}
        for n in sizes:
            started = time.perf_counter()
            clusters[n] = stack.enter_context(LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                dashboard_address=None, silence_logs=40))
            print(f"LocalCluster with {n} worker(s) started in {time.perf_counter() - started:.1f} s")
        dplans = {n: replace(plan, executor="dask", scheduler=c.scheduler_address) for n, c in clusters.items()}

        # correctness, and the first (cold) runs: every process loads its models here
        started = time.perf_counter()
        reference = comparable(run_paths(paths, plan, jobs=0))
        cold = {"in-process (jobs=0)": len(paths) / (time.perf_counter() - started)}
        identical = {}
        for n, dplan in dplans.items():
            started = time.perf_counter()
            identical[n] = comparable(run_paths(paths, dplan)) == reference
            cold[f"LocalCluster {n} worker(s)"] = len(paths) / (time.perf_counter() - started)
        for name, rate in cold.items():
            print(f"first run, models loading: {name:28s} {rate:8.1f} images/s")

        # warm figures, measured in interleaved rounds so that load from other jobs on the
        # machine falls on every configuration alike
        runs = {"read+hash only, one process": lambda: read_rate(paths),
                "in-process (jobs=0), models warm": lambda: run_paths(paths, plan, jobs=0),
                f"local pool, {args.workers} processes (incl. start-up)":
                    lambda: run_paths(paths, plan, jobs=args.workers)}
        for n, dplan in dplans.items():
            for size in batch_sizes:
                runs[f"LocalCluster {n} worker(s), batch-size {size}"] = \
                    functools.partial(run_paths, paths, replace(dplan, batch_size=size))
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.repeat):
            for name, run in runs.items():
                started = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - started)
        one_proc = len(paths) / statistics.median(times["in-process (jobs=0), models warm"])
        print(f"warm runs, median of {args.repeat} interleaved rounds:")
        for name, taken in times.items():
            rate = len(paths) / statistics.median(taken)
            spread = f"{len(paths) / max(taken):.1f}-{len(paths) / min(taken):.1f}"
            print(f"  {name:48s} {rate:8.1f} images/s  (range {spread}; {rate / one_proc:.2f}x in-process)")

        for n, cluster in clusters.items():
            with Client(cluster.scheduler_address, set_as_default=False) as client:
                seq, pipe = scheduler_overhead_ms(client, dplans[n])
            print(f"LocalCluster {n} worker(s): scheduler overhead per batch {seq:.1f} ms round trip, "
                  f"{pipe:.2f} ms each when pipelined; report identical to local run (timings aside): "
                  f"{'yes' if identical[n] else 'NO'}")
        n = max(clusters)
        if n > 1:
            lost, differ = killed_worker_run(clusters[n], paths, replace(dplans[n], batch_size=4), reference)
            print(f"LocalCluster {n} workers, one worker killed mid-run: images lost {lost}, "
                  f"results differing from the local run {differ} of {len(paths)}")

if __name__ == "__main__":
    main()
