"""The Dask executor (issue 7): same report as a local run, no image lost when workers die,
URLs read on the workers, the notebook bag API, and clear messages when something is missing.

Cluster tests start a ``distributed.LocalCluster`` on loopback (2 worker processes, one thread
each) once for the module, and close it at the end."""
from __future__ import annotations

import json
import os
import signal
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from checker import dask as noticer_dask
from checker.executors import dask as dask_executor
from checker.job import build_job
from checker.session import build_plan, report_from
from checker.config import ConfigError, resolve
from checker.model import Issue, Severity, Verdict
from checker.rule import Rule
from checker.session import run_paths
from tests.helpers import run_cli

distributed = pytest.importorskip("distributed", reason="needs the noticer[dask] extra (dask[distributed])")
# a cluster's HTTP server (on loopback) moves to a free port when another run holds 8787
pytestmark = pytest.mark.filterwarnings("ignore:Port 8787 is already in use")

SD_PARAMETERS = ("a watercolor fox in a snowy forest\nNegative prompt: blurry\n"
                 "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1234, Size: 96x80, Model: sd15")


# ----------------------------------------------------------------------------- test rules
# Module-level so the worker processes can import them (they inherit sys.path).

@dataclass(frozen=True)
class PauseSettings:
    pause_s: float = 0.0


def check_slowly(ctx, settings: PauseSettings):
    """Sleeps for pause_s, longer (3 s) on files named slow*; reports the mean brightness."""
    time.sleep(3.0 if ctx.path.name.startswith("slow") else settings.pause_s)
    yield Issue(f"mean {float(ctx.rgb.mean()):.1f}", measurements={"mean": float(ctx.rgb.mean())})


def check_or_die(ctx, settings: PauseSettings):
    """Ends its whole process on files named poison*: a worker crash, not a rule error."""
    if ctx.path.name.startswith("poison"):
        os._exit(3)
    yield Issue(f"survived {ctx.path.name}")


SLOW_RULE = Rule(code="TST901", name="test.slow", summary="sleeps", check=check_slowly,
                 severity=Severity.INFO, settings=PauseSettings)
DYING_RULE = Rule(code="TST902", name="test.poison", summary="kills its worker", check=check_or_die,
                  severity=Severity.INFO, settings=PauseSettings)


def test_plan(rule: Rule, scheduler: str | None = None, **options) -> object:
    plan = resolve([rule], {}, select=["ALL"], cache=False, **options)
    return replace(plan, executor="dask", scheduler=scheduler) if scheduler else plan


test_plan.__test__ = False  # a helper, not a test


# ----------------------------------------------------------------------------- images

def save_png(path: Path, value: int, size=(96, 80), text: dict[str, str] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    info = PngInfo()
    for key, val in (text or {}).items():
        info.add_text(key, val)
    Image.fromarray(np.full((size[1], size[0], 3), value, np.uint8)).save(path, pnginfo=info)
    return path


@pytest.fixture
def mixed_folder(tmp_path) -> Path:
    """Images with and without generation metadata, a tiny one, an empty and a fake file."""
    folder = tmp_path / "images"
    save_png(folder / "plain.png", 90)
    save_png(folder / "with_prompt.png", 120, text={"parameters": SD_PARAMETERS})
    save_png(folder / "sub" / "comfy.png", 150, text={"prompt": json.dumps({"3": {"class_type": "KSampler",
                                                                                  "inputs": {"seed": 7}}})})
    save_png(folder / "tiny.png", 60, size=(20, 16))
    Image.fromarray(np.full((80, 96, 3), 200, np.uint8)).save(folder / "photo.jpg", quality=90)
    (folder / "empty.png").write_bytes(b"")
    (folder / "notes.png").write_bytes(b"this is not an image")
    (folder / "noticer.toml").write_text("cache = false\n")  # compare real runs, not cache hits
    return folder


def strip_timings(report: dict) -> dict:
    """The report without what measures time rather than the image: timings_ms, and
    measurements a rule names *_ms (HAND001's analysis_ms differs between any two runs)."""
    clone = json.loads(json.dumps(report))
    for image in clone["images"]:
        image.pop("timings_ms")
        for finding in image["findings"]:
            finding["measurements"] = {k: v for k, v in finding["measurements"].items() if not k.endswith("_ms")}
    return clone


def strip_path(result) -> dict:
    (image,) = strip_timings({"images": [result.to_dict()]})["images"]
    image.pop("path")
    return image


# ----------------------------------------------------------------------------- the cluster

@pytest.fixture(scope="module")
def cluster():
    import dask

    # one worker death is survived by the scheduler's own rescheduling, the second fails the task
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                      dashboard_address=None, silence_logs=40) as local_cluster:
            yield local_cluster


@pytest.fixture
def client(cluster):
    with distributed.Client(cluster.scheduler_address, set_as_default=True) as c:
        c.wait_for_workers(2, timeout=300)
        yield c


# ----------------------------------------------------------------------------- small pieces

@pytest.mark.parametrize("path, expected", [
    ("s3://bucket/a.png", True), ("file:///tmp/a.png", True), ("gs://b/x/", True),
    ("images/a.png", False), ("/abs/a.png", False), ("C:\\a.png", False),
])
def test_is_url(path, expected):
    assert noticer_dask.is_url(path) is expected


def test_batches_cover_every_item_once_in_order():
    items = list(range(37))
    chunks = list(noticer_dask.batches(items, 16))
    assert [len(c) for c in chunks] == [16, 16, 5]
    assert [x for c in chunks for x in c] == items
    assert list(noticer_dask.batches(items, 0)) == [(x,) for x in items]  # nonsense size -> 1


def test_local_paths_travel_absolute_urls_unchanged(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert noticer_dask.source_of("a/b.png") == str(tmp_path / "a" / "b.png")
    assert noticer_dask.source_of("s3://bucket/b.png") == "s3://bucket/b.png"


def test_batch_deadline_grows_with_batch_and_limit():
    short = noticer_dask.batch_deadline_s(1, 10.0)
    assert noticer_dask.batch_deadline_s(16, 10.0) > short > noticer_dask.batch_deadline_s(1, 1.0)
    assert short >= 2 * 10.0  # an image may wait behind one other on its worker


def test_expand_urls_lists_folders_globs_and_files(tmp_path):
    root = tmp_path / "bucket"
    save_png(root / "a.png", 10)
    save_png(root / "deep" / "b.PNG", 20)
    save_png(root / ".noticer_cache" / "c.png", 30)
    (root / "readme.txt").write_text("not an image")
    base = root.as_uri()
    assert noticer_dask.expand_urls([base]) == [f"{base}/a.png", f"{base}/deep/b.PNG"]
    assert noticer_dask.expand_urls([f"{base}/*.png"]) == [f"{base}/a.png"]
    assert noticer_dask.expand_urls([f"{base}/deep/b.PNG"]) == [f"{base}/deep/b.PNG"]
    assert noticer_dask.expand_urls([base], exclude=["deep"]) == [f"{base}/a.png"]
    with pytest.raises(FileNotFoundError, match="missing"):
        noticer_dask.expand_urls([f"{base}/missing"])


def test_unknown_url_protocol_says_what_to_install(monkeypatch):
    with pytest.raises((ConfigError, ValueError)) as info:
        noticer_dask.expand_urls(["nosuchproto://bucket/a.png"])
    assert "nosuchproto" in str(info.value)


def test_missing_extra_is_named(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` now fails
    plan = test_plan(SLOW_RULE, scheduler="tcp://127.0.0.1:8786")
    with pytest.raises(ConfigError, match=r"noticer\[dask\]"):
        run_paths([str(save_png(tmp_path / "a.png", 1))], plan)


def test_missing_fsspec_is_named(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "fsspec", None)
    with pytest.raises(ConfigError, match=r"noticer\[dask\]"):
        noticer_dask.expand_urls([tmp_path.as_uri()])


def test_scheduler_address_is_required(tmp_path):
    plan = test_plan(SLOW_RULE, scheduler=None)
    plan = replace(plan, executor="dask")
    with pytest.raises(ConfigError, match="--scheduler"):
        run_paths([str(save_png(tmp_path / "a.png", 1))], plan)


def test_cluster_without_workers_fails_clearly_instead_of_waiting_forever(tmp_path, monkeypatch):
    monkeypatch.setattr(dask_executor, "NO_WORKERS_LIMIT_S", 0.5)
    with distributed.LocalCluster(n_workers=0, processes=True, host="127.0.0.1", dashboard_address=None,
                                  silence_logs=40) as empty:
        plan = test_plan(SLOW_RULE, scheduler=empty.scheduler_address)
        with pytest.raises(ConfigError, match="no workers"):
            run_paths([str(save_png(tmp_path / "a.png", 1))], plan)


def test_worker_side_check_reports_unreadable_url_as_image_error(tmp_path):
    plan = test_plan(SLOW_RULE)
    result = noticer_dask.check_one(build_job("file:///no/such/x.png", plan))
    assert result.verdict is Verdict.ERROR and result.findings[0].code == "IMG001"
    assert result.path == "file:///no/such/x.png"


# ----------------------------------------------------------------------------- on the cluster

def test_same_report_as_a_local_run(cluster, mixed_folder, monkeypatch):
    monkeypatch.chdir(mixed_folder.parent)  # relative paths, as a user types them
    paths = ["images"]
    plan, _ = build_plan(paths)
    from checker.inputs import find_images

    images = [str(p) for p in find_images(paths)[0]]
    assert len(images) == 7
    local = report_from(plan, run_paths(images, plan, jobs=0)).to_dict()
    seen: list[str] = []
    dask_plan = replace(plan, executor="dask", scheduler=cluster.scheduler_address, batch_size=2)
    remote = report_from(dask_plan, run_paths(images, dask_plan, on_result=lambda r: seen.append(r.path)))
    assert sorted(seen) == sorted(images)  # collect: once per path
    assert strip_timings(remote.to_dict()) == strip_timings(local)
    verdicts = {Path(r["path"]).name: r["verdict"] for r in local["images"]}
    assert verdicts["empty.png"] == verdicts["notes.png"] == "error"
    assert verdicts["plain.png"] == "pass"


def test_cli_json_is_identical_to_local(cluster, mixed_folder):
    local = run_cli("check", "--format", "json", "--no-progress", "--jobs", "0", str(mixed_folder))
    remote = run_cli("check", "--format", "json", "--no-progress", "--executor", "dask",
                     "--scheduler", cluster.scheduler_address, str(mixed_folder))
    assert local.returncode == remote.returncode == 1, remote.stderr
    errors = [f["message"] for i in json.loads(remote.stdout)["images"] for f in i["findings"] if f["code"] == "IMG001"]
    assert strip_timings(json.loads(remote.stdout)) == strip_timings(json.loads(local.stdout)), \
        (errors, remote.stderr[-2000:])


def test_urls_are_read_on_the_workers(cluster, mixed_folder):
    plan = test_plan(SLOW_RULE, scheduler=cluster.scheduler_address)
    files = ["plain.png", "with_prompt.png", "empty.png"]
    urls = [(mixed_folder / name).as_uri() for name in files]
    remote = run_paths(urls, plan)
    local = run_paths([str(mixed_folder / name) for name in files], replace(plan, executor="local"), jobs=0)
    assert [r.path for r in remote] == sorted(urls)
    assert [strip_path(r) for r in remote] == [strip_path(r) for r in local]


def test_killed_worker_loses_no_image(cluster, client, tmp_path):
    images = [str(save_png(tmp_path / f"img{i:02d}.png", 5 * i)) for i in range(24)]
    plan = test_plan(SLOW_RULE, scheduler=cluster.scheduler_address, batch_size=2)
    plan = replace(plan, rules=tuple(replace(rp, settings=PauseSettings(pause_s=0.15)) for rp in plan.rules))
    pids = list(client.run(os.getpid).values())
    killed: list[int] = []

    def kill_one_worker_after_first_result(_result) -> None:
        if not killed:
            killed.append(pids[0])
            os.kill(pids[0], signal.SIGKILL)

    results = run_paths(images, plan, on_result=kill_one_worker_after_first_result)
    assert killed
    assert [r.path for r in results] == images
    assert all(r.verdict is Verdict.WARN for r in results), [r.findings[0].message for r in results]
    local = run_paths(images, replace(plan, executor="local"), jobs=0)
    assert [strip_path(r) for r in results] == [strip_path(r) for r in local]
    client.wait_for_workers(2, timeout=300)  # the nanny restarts it


def test_image_that_kills_every_worker_is_reported_and_the_run_completes(cluster, client, tmp_path):
    names = ("a.png", "b.png", "poison.png", "z.png")
    images = [str(save_png(tmp_path / name, 40)) for name in names]
    plan = test_plan(DYING_RULE, scheduler=cluster.scheduler_address, batch_size=4)
    results = {Path(r.path).name: r for r in run_paths(images, plan)}
    assert sorted(results) == sorted(names)  # one result per image: the run completed
    poison = results.pop("poison.png")
    assert poison.verdict is Verdict.ERROR and poison.findings[0].code == "IMG001"
    assert "worker" in poison.findings[0].message and "retried" in poison.findings[0].message
    checked = 0
    for name, result in results.items():
        # batch mates are retried alone: checked, unless a dying worker also held them twice
        # (Dask counts a death against every task on that worker; see the module notes)
        if result.verdict is Verdict.ERROR:
            assert "worker" in result.findings[0].message
        else:
            assert [f.message for f in result.findings] == [f"survived {name}"]
            checked += 1
    assert checked >= 1
    client.wait_for_workers(2, timeout=300)


def test_image_past_the_time_limit_is_reported(cluster, client, tmp_path, monkeypatch):
    monkeypatch.setattr(dask_executor, "MODEL_LOAD_GRACE_S", 0.0)
    image = str(save_png(tmp_path / "slow.png", 40))
    plan = test_plan(SLOW_RULE, scheduler=cluster.scheduler_address, timeout=0.3)
    started = time.monotonic()
    (result,) = run_paths([image], plan)
    assert time.monotonic() - started < 2.9  # given up before the 3 s check finished
    assert result.verdict is Verdict.ERROR
    assert "time limit (0.3 s per image)" in result.findings[0].message


def test_check_bag_findings_and_images(client, mixed_folder):
    findings = noticer_dask.check_bag(str(mixed_folder), profile="lenient", batch_size=3)
    rows = findings.compute()
    by_path = {}
    for row in rows:
        by_path.setdefault(Path(row["path"]).name, set()).add(row["code"])
    assert "META001" in by_path["with_prompt.png"] and "META001" in by_path["comfy.png"]
    assert by_path["empty.png"] == {"IMG001"} and "plain.png" not in by_path
    flagged = findings.filter(lambda f: f["severity"] == "error").pluck("path").distinct().compute()
    assert sorted(Path(p).name for p in flagged) == ["empty.png", "notes.png"]

    import dask.bag as db

    paths = db.from_sequence([str(mixed_folder / "plain.png"), (mixed_folder / "with_prompt.png").as_uri()])
    per_image = {Path(r["path"]).name: r for r in noticer_dask.check_bag(paths, per="image").compute()}
    assert per_image["plain.png"]["verdict"] == "pass" and per_image["plain.png"]["codes"] == []
    assert "META001" in per_image["with_prompt.png"]["codes"]
