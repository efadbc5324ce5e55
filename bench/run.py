"""`make bench`: measure each stage of the pipeline against the floor, and write docs/benchmarks.md.

For each size (1M and 10M lines by default; `--quick`: 1M; `--lines N`, repeatable, e.g. 100000000) it
generates one month of the model company (cached under bench/cache/, keyed by lines, month, seed and the
generator's source), then runs every stage of bench/stages.py in its own child process, sampling the child's
resident memory (the whole process tree) with psutil, and writes the table, the ratios to the floor, the
targets and the machine to docs/benchmarks.md (`--no-docs`: only print and write the JSON results).
"""

from __future__ import annotations

import argparse
import calendar
import contextlib
import hashlib
import importlib.metadata
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil

from pipelines.billing.ingest import ONE_SORT_MAX_LINES
from pipelines.progress import Progress

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "benchmarks.md"
ANALYSIS = REPO / "bench" / "analysis.md"
DEFAULT_CACHE = REPO / "bench" / "cache"
DEFAULT_SIZES = [1_000_000, 10_000_000]
QUICK_SIZES = [1_000_000]
# The generator's code: a change to any of these makes a new cache key, so a stale month is never measured.
GENERATOR_SOURCES = [
    "fixtures/model_company/scaled.py",
    "fixtures/model_company/cur2.py",
    "fixtures/model_company/cur_fields.py",
    "fixtures/model_company/company.py",
    "fixtures/model_company/ids.py",
    "fixtures/model_company/periods.py",
    "fixtures/model_company/answers.py",
]
# The stages run per size, in this order (each reads what the previous published).
# rerun_day reruns one day through Dagster on the instance e2e left.
PIPELINE_STAGES = [
    "floor_copy", "floor_scan", "ingest", "attribute", "gpu_predictions", "restate_day", "e2e", "rerun_day",
]  # fmt: skip
# The same month delivered in time order (bench/stages.py, stage_time_order), in a home of its own: its floor, and
# an ingestion that writes it as delivered instead of sorting it (pipelines/billing/ingest.py).
TIME_ORDERED_STAGES = ["floor_copy_time_ordered", "ingest_time_ordered"]
# The largest month the time-ordered stages run on: stage_time_order sorts the raw export (~130 columns) in one
# piece, and for 33.5M lines of the 100M month that sort's spill filled the 36 GB the disk had left
# (docs/benchmarks.md, section 15).
TIME_ORDERED_MAX_LINES = 20_000_000
# Where stage_time_order writes that copy inside the cached month (bench/stages.py's TIME_ORDERED: this script runs
# without the bench package on its path; tests/test_bench_smoke.py checks the two agree).
TIME_ORDERED = "time_ordered"
# The floor each stage is compared with: a time-ordered delivery's own.
FLOOR_OF = {"floor_copy_time_ordered": None, "ingest_time_ordered": "floor_copy_time_ordered"}
GB = 1 << 30

TARGETS = {
    "ingest_vs_floor": 1.5,
    "compute_vs_floor": 3.0,
    "e2e_seconds": 90.0,
    "peak_memory_bytes": 2 * GB,
    # "About one day's work": attributing one day costs at most twice a day's share of the month's attribution.
    "restate_vs_day_share": 2.0,
}


# --- running one stage --------------------------------------------------------------------------------------


class _Sampler(threading.Thread):
    """Samples the resident memory of a process and its descendants; kills them on timeout or limit."""

    def __init__(self, pid: int, *, timeout: float | None, rss_limit: int | None, interval: float = 0.05):
        super().__init__(daemon=True)
        self.pid = pid
        self.timeout = timeout
        self.rss_limit = rss_limit
        self.interval = interval
        self.peak = 0
        self.killed: str | None = None
        self.done = threading.Event()

    def _tree_rss(self, proc: psutil.Process) -> int:
        total = 0
        for p in [proc, *proc.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                total += p.memory_info().rss
        return total

    def run(self) -> None:
        start = time.monotonic()
        try:
            proc = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self.done.is_set():
            try:
                rss = self._tree_rss(proc)
            except (psutil.NoSuchProcess, psutil.ZombieProcess):
                return
            self.peak = max(self.peak, rss)
            if self.rss_limit and rss > self.rss_limit:
                self.killed = f"stopped: resident memory passed {self.rss_limit / GB:.1f} GB"
            elif self.timeout and time.monotonic() - start > self.timeout:
                self.killed = f"stopped: still running after {self.timeout:.0f} s"
            if self.killed:
                # The child leads its own session (start_new_session): this ends it and its children only.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                return
            self.done.wait(self.interval)


def run_stage(
    stage: str,
    *,
    data: Path,
    home: Path,
    work: Path,
    env: dict,
    args: argparse.Namespace,
    lines: int,
    timeout: float | None = None,
    rss_limit: int | None = None,
) -> dict:
    """Run `python -m bench.stages <stage>` in a child process; return its result, peak memory and load."""
    result_file = work / f"{stage}.json"
    log_file = work / "logs" / f"{stage}.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    result_file.unlink(missing_ok=True)
    cmd = [
        sys.executable, "-m", "bench.stages", stage,
        "--data", str(data), "--home", str(home), "--month", args.month,
        "--lines", str(lines), "--seed", str(args.seed), "--result", str(result_file),
    ]  # fmt: skip
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    with open(log_file, "w") as log:
        proc = subprocess.Popen(cmd, cwd=args.code, env=env, stdout=log, stderr=log, start_new_session=True)
        sampler = _Sampler(proc.pid, timeout=timeout, rss_limit=rss_limit)
        sampler.start()
        try:
            # wait4 gives the child's own peak RSS exactly, which sampling can miss between two samples.
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            # Interrupted (Ctrl-C, SIGTERM): end the child's session too, then let the interruption through.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            os.waitpid(proc.pid, 0)
            raise
        proc.returncode = os.waitstatus_to_exitcode(status)
        sampler.done.set()
        sampler.join()
    wall = time.perf_counter() - t0
    out: dict = {
        "stage": stage,
        "process_seconds": wall,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
    }
    if proc.returncode != 0 or not result_file.exists():
        tail = log_file.read_text(errors="replace").strip().splitlines()[-12:]
        out.update(ok=False, error=sampler.killed or f"exit status {proc.returncode}", log_tail=tail)
        out["peak_rss"] = max(sampler.peak, usage.ru_maxrss * 1024)
        return out
    result = json.loads(result_file.read_text())
    extra = result.get("extra", {})
    out.update(result)
    out["ok"] = True
    out["peak_rss"] = max(
        sampler.peak, usage.ru_maxrss * 1024, result.get("self_peak_rss", 0), extra.get("child_peak_rss", 0)
    )
    out["rows_per_second"] = result["rows"] / result["seconds"] if result["seconds"] > 0 else None
    return out


# --- the generated month, cached ----------------------------------------------------------------------------


def snapshot_code(dest: Path) -> Path:
    """Copy the measured code (pipelines/, sql/, the generator and the stages) to `dest`; every stage runs
    that copy.

    Others may edit or commit while a benchmark runs for an hour: without a copy, stages measured at
    different times would measure different code.
    """
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(REPO / "pipelines", dest / "pipelines", ignore=ignore)
    shutil.copytree(REPO / "sql", dest / "sql", ignore=ignore)
    # The generator (not part of `pipelines`): `generate` imports fixtures.model_company from the snapshot.
    shutil.copytree(REPO / "fixtures" / "model_company", dest / "fixtures" / "model_company", ignore=ignore)
    shutil.copy2(REPO / "fixtures" / "__init__.py", dest / "fixtures" / "__init__.py")
    (dest / "bench").mkdir(parents=True)
    for name in ("__init__.py", "stages.py", "pandas_baseline.py"):
        shutil.copy2(REPO / "bench" / name, dest / "bench" / name)
    return dest


def code_fingerprint(root: Path = REPO) -> str:
    """A short hash of the measured code (pipelines/ and sql/ under `root`)."""
    digest = hashlib.sha256()
    files = [*root.glob("pipelines/**/*.py"), *root.glob("pipelines/**/*.yaml"), *root.glob("sql/**/*.sql")]
    for path in sorted(files):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def generator_version(root: Path = REPO) -> str:
    """A short hash of the generator's source files: the cache key part that changes when the data would."""
    digest = hashlib.sha256()
    for name in GENERATOR_SOURCES:
        path = root / name
        digest.update(name.encode())
        digest.update(path.read_bytes() if path.exists() else b"")
    return digest.hexdigest()[:12]


def ensure_month(
    args: argparse.Namespace, lines: int, env: dict, work: Path, progress: Progress | None = None
) -> tuple[Path, dict]:
    """The cached month for `lines` (generated in a child process when missing) and its generation record."""
    version = generator_version(args.code)
    prefix = f"cur2-{lines}-"
    name = f"{prefix}{args.month}-seed{args.seed}-gen{version}"
    cache = args.cache_dir
    target = cache / name
    record_file = target / "generation.json"
    if record_file.exists():
        record = json.loads(record_file.read_text())
        record["cached"] = True
        return target, record
    cache.mkdir(parents=True, exist_ok=True)
    for stale in cache.glob(prefix + "*"):
        # Another generator version or seed of the same size: our own cache, superseded.
        if stale.is_dir() and stale != target:
            shutil.rmtree(stale, ignore_errors=True)
    tmp = cache / f".tmp-{name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        record = _prepare(
            args,
            "generate",
            f"{lines:,} lines of {args.month} into {target}",
            tmp,
            lines,
            env,
            work,
            progress,
        )
    except SystemExit:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    record["generated_on"] = datetime.now(UTC).isoformat(timespec="seconds")
    record["generator_version"] = version
    (tmp / "generation.json").write_text(json.dumps(record, indent=2))
    os.replace(tmp, target)
    record["cached"] = False
    return target, record


def _prepare(
    args: argparse.Namespace,
    stage: str,
    what: str,
    data: Path,
    lines: int,
    env: dict,
    work: Path,
    progress: Progress | None,
) -> dict:
    """Run a stage that prepares data (not one the report measures) with its progress line; exit if it fails."""
    key = f"{lines}/{stage}"
    if progress is not None:
        progress.start(key, f"{_size(lines):>5} {stage} {what}")
    record = run_stage(stage, data=data, home=work, work=work, env=env, args=args, lines=lines)
    if progress is not None:
        progress.finish(key, line=_progress_line(lines, record, None))
    if not record.get("ok"):
        raise SystemExit(f"{stage} failed: {record.get('error')}\n" + "\n".join(record.get("log_tail", [])))
    return record


def ensure_time_ordered(
    args: argparse.Namespace, month: Path, lines: int, env: dict, work: Path, progress: Progress | None = None
) -> tuple[Path, dict]:
    """The month's time-ordered copy (bench/stages.py, stage_time_order), made once beside the cached month."""
    target = month / TIME_ORDERED
    record_file = target / "order.json"
    if record_file.exists():
        return target, {**json.loads(record_file.read_text()), "cached": True}
    record = _prepare(
        args, "time_order", f"the month in time order into {target}", month, lines, env, work, progress
    )
    record_file.write_text(json.dumps(record, indent=2))
    return target, {**record, "cached": False}


# --- the whole benchmark ------------------------------------------------------------------------------------


def child_env(work: Path, args: argparse.Namespace) -> dict:
    """Every stage's environment: the caller's MLCOST_* and DAGSTER_HOME dropped, except DuckDB limits."""
    keep = {"MLCOST_DUCKDB_MEMORY_LIMIT", "MLCOST_DUCKDB_THREADS"}
    env = {
        k: v
        for k, v in os.environ.items()
        if (not k.startswith("MLCOST_") or k in keep) and k != "DAGSTER_HOME"
    }
    # The snapshot comes first: `pipelines` resolves to it, not to the editable install of the working tree.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(args.code), env.get("PYTHONPATH")]))
    env["MLCOST_PARTITION_START"] = args.month + "-01"
    env["DAGSTER_HOME"] = str(work / "dagster_home")
    env["PYTHONWARNINGS"] = "ignore"
    return env


def machine() -> dict:
    """Cores, RAM, CPU model, Python and library versions, and the commit measured."""
    import duckdb

    model = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for package in ("dagster", "polars", "pyarrow", "pandas", "numpy"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "absent"
    commit = _git("rev-parse", "--short", "HEAD")
    # Uncommitted changes to the measured code (not the benchmark's own) say what the numbers belong to.
    changed = [
        line[3:]
        for line in _git("status", "--porcelain").splitlines()
        if line[3:].startswith(("pipelines/", "sql/"))
    ]
    dirty = bool(changed)
    return {
        "cpu_model": model,
        "logical_cores": psutil.cpu_count(logical=True),
        "physical_cores": psutil.cpu_count(logical=False),
        "ram_bytes": psutil.virtual_memory().total,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "versions": versions,
        "commit": (commit or "unknown")
        + (" with uncommitted changes to " + ", ".join(changed) if dirty else ""),
    }


def _git(*argv: str) -> str:
    try:
        return subprocess.run(
            ["git", *argv], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.rstrip()  # not strip(): porcelain lines start with a space
    except (OSError, subprocess.CalledProcessError):
        return ""


def run_benchmark(args: argparse.Namespace) -> dict:
    """Every size's stages, in order; returns the results document (also written as JSON)."""
    sizes = args.lines or (QUICK_SIZES if args.quick else DEFAULT_SIZES)
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    work_root = args.cache_dir / f"work-{os.getpid()}"
    args.code = snapshot_code(work_root / "code")
    results: dict = {
        "meta": {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": _command(),
            "month": args.month,
            "seed": args.seed,
            "generator_version": generator_version(args.code),
            "duckdb_memory_limit": os.environ.get("MLCOST_DUCKDB_MEMORY_LIMIT") or "2GB (default)",
            "duckdb_threads": os.environ.get("MLCOST_DUCKDB_THREADS") or "2 (default)",
            "machine": machine(),
            "load_average_start": os.getloadavg(),
            "code_fingerprint": code_fingerprint(args.code),
            "pandas_max_lines": 0 if args.no_pandas else args.pandas_max_lines,
            "pandas_memory_limit_gb": args.pandas_memory_limit,
            "quick": bool(args.quick),
        },
        "overhead": {},
        "sizes": {},
    }
    # Each stage live on a terminal (size, stage, elapsed), one line per stage otherwise (pipelines/progress.py).
    progress = Progress()
    try:
        work = work_root / "overhead"
        work.mkdir(parents=True, exist_ok=True)
        env = child_env(work, args)
        progress.start("overhead", "measuring process start + definitions load")
        res = run_stage("import_definitions", data=work, home=work, work=work, env=env, args=args, lines=0)
        results["overhead"]["import_definitions"] = res
        progress.finish(
            "overhead",
            line=f"process start + definitions load {res['seconds']:.2f} s"
            if res.get("ok")
            else f"process start + definitions load FAILED: {res.get('error')}",
        )
        for lines in sizes:
            work = work_root / str(lines)
            home = work / "home"
            home.mkdir(parents=True, exist_ok=True)
            env = child_env(work, args)
            data, generation = ensure_month(args, lines, env, work, progress)
            size: dict = {"lines": lines, "data": str(data), "generation": generation, "stages": {}}
            results["sizes"][str(lines)] = size
            stages = list(PIPELINE_STAGES)
            ordered = data
            if lines <= TIME_ORDERED_MAX_LINES:
                ordered, size["time_order"] = ensure_time_ordered(args, data, lines, env, work, progress)
                stages += TIME_ORDERED_STAGES
            if not args.no_pandas and lines <= args.pandas_max_lines:
                stages.append("pandas")
            for stage in stages:
                limit = args.pandas_memory_limit * GB if stage == "pandas" else None
                progress.start(f"{lines}/{stage}", f"{_size(lines):>5} {stage:<24} ({lines:,} lines)")
                time_ordered = stage in TIME_ORDERED_STAGES
                res = run_stage(
                    stage, data=ordered if time_ordered else data,
                    home=work / "time_ordered_home" if time_ordered else home, work=work, env=env, args=args,
                    lines=lines, timeout=args.timeout, rss_limit=limit,
                )  # fmt: skip
                size["stages"][stage] = res
                progress.finish(
                    f"{lines}/{stage}", line=_progress_line(lines, res, _floor_of(stage, size["stages"]))
                )
            _save(results, args)
    finally:
        progress.close()
        results["meta"]["load_average_end"] = os.getloadavg()
        # Edits made to the working tree meanwhile are not in these numbers: say so in the report.
        results["meta"]["working_tree_fingerprint_end"] = code_fingerprint(REPO)
        if not args.keep_work:
            shutil.rmtree(work_root, ignore_errors=True)
    _save(results, args)
    return results


def _command() -> str:
    argv = sys.argv[:]
    exe = Path(sys.executable)
    with contextlib.suppress(ValueError):
        exe = exe.relative_to(REPO)
    script = Path(argv[0]).resolve()
    with contextlib.suppress(ValueError):
        argv[0] = str(script.relative_to(REPO))
    return shlex.join([str(exe), *argv])


def _save(results: dict, args: argparse.Namespace) -> None:
    text = json.dumps(results, indent=2, default=str)
    (args.cache_dir / "results.json").write_text(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text)


def _floor_of(stage: str, stages: dict) -> dict | None:
    """The finished floor a stage is compared with (None for a floor itself, or when it failed)."""
    name = FLOOR_OF.get(stage, "floor_copy" if stage != "floor_copy" else None)
    floor = stages.get(name) if name else None
    return floor if floor and floor.get("ok") else None


def _progress_line(lines: int, res: dict, floor: dict | None) -> str:
    if not res.get("ok"):
        return f"{_size(lines):>5} {res['stage']:<24} FAILED: {res.get('error')}"
    ratio = ""
    if floor:
        ratio = f"{res['seconds'] / floor['seconds']:6.2f}x floor"
    return (
        f"{_size(lines):>5} {res['stage']:<24} {res['seconds']:8.2f} s {ratio:>14}  "
        f"{_rate(res.get('rows_per_second')):>10} rows/s  peak {res['peak_rss'] / GB:5.2f} GB  "
        f"(load {res['load_before']:.1f})"
    )


# --- docs/benchmarks.md -------------------------------------------------------------------------------------


def _size(lines: int) -> str:
    if lines >= 1_000_000 and lines % 1_000_000 == 0:
        return f"{lines // 1_000_000}M"
    if lines >= 1000 and lines % 1000 == 0:
        return f"{lines // 1000}k"
    return str(lines)


def _rate(value: float | None) -> str:
    if not value:
        return "–"
    if value >= 1e6:
        return f"{value / 1e6:.2f}M"
    return f"{value / 1e3:.0f}k"


def _gb(value: float | None) -> str:
    return "–" if not value else f"{value / GB:.2f}"


STAGE_LABELS = {
    "floor_copy": "**floor**: one DuckDB pass, raw export → 31 normalized columns (zstd Parquet)",
    "floor_scan": "floor: one aggregate scan of the raw export (GROUP BY day, line item type)",
    "ingest": "ingestion to `line_items` (discover_deliveries + ingest_deliveries)",
    "attribute": "attribution, whole month (attribute + summarize_by_category + reconcile)",
    "gpu_predictions": "GPU efficiency + cost per prediction, month (no GPU/prediction source)",
    "restate_day": "recompute one day after a restatement (attribute + summarize, 1 day)",
    "e2e": "end-to-end `mlcost run` (subprocess, 3 Dagster runs, checks, catalog)",
    "rerun_day": "one day rerun through Dagster after `mlcost run` (daily_tables job for 1 day, its checks)",
    "pandas": "pandas baseline: ingestion + attribution (bench/pandas_baseline.py)",
    "floor_copy_time_ordered": "the same month delivered in time order: **its floor** (× floor: the first floor's)",
    "ingest_time_ordered": "ingestion of the time-ordered delivery (× floor: its own floor's)",
}
COMPUTE_STAGES = ("ingest", "attribute", "gpu_predictions")
MEMORY_STAGES = ("ingest", "attribute", "gpu_predictions", "restate_day", "e2e", "rerun_day")


def summarize(size: dict) -> dict:
    """The derived numbers of one size: ratios to the floor, compute total, target verdicts."""
    st = size["stages"]

    def secs(name: str) -> float | None:
        r = st.get(name)
        return r["seconds"] if r and r.get("ok") else None

    def cpu(name: str) -> float | None:
        r = st.get(name)
        return r.get("cpu_seconds") if r and r.get("ok") else None

    floor = secs("floor_copy")
    out: dict = {"floor": floor}
    compute_parts = [secs(s) for s in COMPUTE_STAGES]
    out["compute"] = sum(compute_parts) if all(v is not None for v in compute_parts) else None
    cpu_parts = [cpu(s) for s in COMPUTE_STAGES]
    out["compute_cpu"] = sum(cpu_parts) if all(v is not None for v in cpu_parts) else None
    out["ingest_ratio"] = secs("ingest") / floor if floor and secs("ingest") else None
    out["compute_ratio"] = out["compute"] / floor if floor and out["compute"] else None
    floor_cpu = cpu("floor_copy")
    out["ingest_cpu_ratio"] = cpu("ingest") / floor_cpu if floor_cpu and cpu("ingest") else None
    out["compute_cpu_ratio"] = out["compute_cpu"] / floor_cpu if floor_cpu and out["compute_cpu"] else None
    out["e2e"] = secs("e2e")
    peaks = [st[s]["peak_rss"] for s in MEMORY_STAGES if s in st and st[s].get("peak_rss")]
    out["peak"] = max(peaks) if peaks else None
    out["peak_stage"] = max(
        (s for s in MEMORY_STAGES if s in st and st[s].get("peak_rss")),
        key=lambda s: st[s]["peak_rss"],
        default=None,
    )
    day, month = st.get("restate_day"), st.get("attribute")
    if day and day.get("ok") and month and month.get("ok"):
        # The attribution of one day against the month's (both without their summaries).
        out["restate_share"] = day["extra"]["parts"]["attribute"] / month["extra"]["parts"]["attribute"]
        out["restate_lines_read"] = day["extra"].get("lines_read")
    e2e = st.get("e2e")
    if e2e and e2e.get("ok"):
        out["dagster_steps"] = e2e["extra"]["steps_seconds"]
        out["dagster_overhead"] = e2e["extra"]["overhead_seconds"]
        # What running through `mlcost run` adds to the same compute measured directly.
        out["orchestration"] = e2e["seconds"] - out["compute"] if out["compute"] is not None else None
    rerun = st.get("rerun_day")
    if rerun and rerun.get("ok"):
        out["rerun_share"] = rerun["extra"]["share_of_month_run"]
    ordered, ordered_floor = secs("ingest_time_ordered"), secs("floor_copy_time_ordered")
    out["ordered_ratio"] = ordered / ordered_floor if ordered and ordered_floor else None
    parts = (st.get("ingest_time_ordered") or {}).get("extra", {}).get("parts", {})
    out["ordered_as_delivered"] = "of which _write_as_delivered" in parts
    return out


def _verdict(value: float | None, limit: float) -> str:
    if value is None:
        return "not measured"
    return "**met**" if value <= limit else "**not met**"


def render(results: dict, analysis: str | None) -> str:
    """docs/benchmarks.md from a results document."""
    meta = results["meta"]
    m = meta["machine"]
    sizes = results["sizes"]
    lines_out: list[str] = []
    w = lines_out.append
    w("# Benchmarks")
    w("")
    w(
        "Generated by `make bench` (bench/run.py) — do not edit by hand; the profiling notes at the end come "
        "from bench/analysis.md. Each stage runs in its own child process on the same generated month (two "
        "of them on that month's lines in time order, compared with their own floor); times "
        "are wall-clock seconds of the stage's work (imports and set-up excluded, except for `mlcost run`, "
        "which is the whole command); peak memory is the child's resident set (process tree, sampled "
        "every 50 ms, and the kernel's own maximum). Ratios are to the **floor**: the least work any "
        "ingestion must do (one DuckDB pass that reads the raw export once and writes the normalized "
        "columns once)."
    )
    w("")
    w(f"- **Date**: {meta['date']}")
    make = {
        ".venv/bin/python bench/run.py": "make bench",
        ".venv/bin/python bench/run.py --quick": "make bench QUICK=1",
    }
    same = f" (= `{make[meta['command']]}`)" if meta["command"] in make else ""
    w(f"- **Command**: `{meta['command']}`{same}")
    w(f"- **Commit**: {m['commit']}")
    measured, later = meta.get("code_fingerprint"), meta.get("working_tree_fingerprint_end")
    if measured:
        w(
            f"- **Code measured**: a copy of pipelines/ and sql/ taken when the run started (fingerprint "
            f"{measured})"
            + (
                f"; the working tree changed while it ran (fingerprint {later} at the end): those changes "
                "are not in these numbers"
                if later and later != measured
                else ""
            )
        )
    w(
        f"- **Machine**: {m['cpu_model']}, {m['logical_cores']} logical cores ({m['physical_cores']} "
        f"physical), {m['ram_bytes'] / GB:.1f} GB RAM, {m['platform']}"
    )
    v = m["versions"]
    w(
        f"- **Software**: Python {m['python']}, DuckDB {m['duckdb']}, Dagster {v['dagster']}, pyarrow "
        f"{v['pyarrow']}, polars {v['polars']}, pandas {v['pandas']}, numpy {v['numpy']}"
    )
    w(
        f"- **Settings**: MLCOST_DUCKDB_MEMORY_LIMIT = {meta['duckdb_memory_limit']}, "
        f"MLCOST_DUCKDB_THREADS = {meta['duckdb_threads']} (every stage and the floor use "
        "pipelines.storage.lake.connect, so the same limits)"
    )
    load0 = meta.get("load_average_start") or [0]
    load1 = meta.get("load_average_end") or [0]
    w(
        f"- **Load**: 1-minute load average {load0[0]:.1f} at the start, {load1[0]:.1f} at the end "
        "(per stage in the table: other processes on the machine slow wall times; the CPU-seconds column and "
        "the CPU ratio are less sensitive to that)"
    )
    w(
        f"- **Data**: the model company's month {meta['month']} (`generate_scaled_month`, seed "
        f"{meta['seed']}, generator {meta['generator_version']}), CUR 2.0 Parquet, 4M lines per file"
    )
    w("")

    biggest = max(sizes, key=int) if sizes else None
    if biggest:
        s = summarize(sizes[biggest])
        st = sizes[biggest]["stages"]
        w(f"## Targets ({_size(int(biggest))} lines)")
        w("")
        w("| target | measured | verdict |")
        w("|---|---|---|")
        w(
            f"| ingestion ≤ 1.5 × floor | {_x(s['ingest_ratio'])} (CPU time: {_x(s['ingest_cpu_ratio'])}) "
            f"| {_verdict(s['ingest_ratio'], TARGETS['ingest_vs_floor'])} |"
        )
        if s.get("ordered_ratio") is not None:
            how = (
                "written as delivered"
                if s["ordered_as_delivered"]
                else "sorted: not judged clustered as delivered (pipelines/billing/ingest.py)"
            )
            w(
                "| the same month delivered in time order: ingestion ≤ 1.5 × that delivery's floor | "
                f"{_x(s['ordered_ratio'])} ({how}) | shown (the target is judged on the generated month, above): "
                f"{_verdict(s['ordered_ratio'], TARGETS['ingest_vs_floor']).strip('*')} |"
            )
        w(
            f"| month's pipeline compute (ingest + attribution + GPU/predictions) ≤ 3 × floor | "
            f"{_x(s['compute_ratio'])} = {_s(s['compute'])} / {_s(s['floor'])} (CPU time: "
            f"{_x(s['compute_cpu_ratio'])}) | {_verdict(s['compute_ratio'], TARGETS['compute_vs_floor'])} |"
        )
        e2e_verdict = _verdict(s["e2e"], TARGETS["e2e_seconds"])
        w(f"| end-to-end `mlcost run` ≤ 90 s | {_s(s['e2e'])} | {e2e_verdict} |")
        w(
            f"| peak memory ≤ 2 GB | {_gb(s['peak'])} GB ({s['peak_stage'] or '–'}) | "
            f"{_verdict(s['peak'], TARGETS['peak_memory_bytes'])} |"
        )
        if s.get("restate_share") is not None:
            day_share = 1 / _days_in(meta["month"])
            read = s.get("restate_lines_read")
            w(
                f"| one day after a restatement ≈ one day's work (≤ {TARGETS['restate_vs_day_share']:g} × a "
                f"day's share, {day_share:.1%}) | {s['restate_share']:.1%} of the month's attribution"
                + (f" (it reads {read:,} of the month's {int(biggest):,} lines)" if read else "")
                + f" | {_verdict(s['restate_share'] / day_share, TARGETS['restate_vs_day_share'])} |"
            )
        if s.get("rerun_share") is not None:
            x = st["rerun_day"]["extra"]
            w(
                f"| one day rerun through Dagster (the day's daily tables and checks) | "
                f"{x['run']['run_seconds']:.2f} s = {s['rerun_share']:.1%} of the month's daily_tables run "
                f"({x['month_daily_tables_seconds']:.2f} s) | shown |"
            )
        imp = results.get("overhead", {}).get("import_definitions", {})
        if s.get("dagster_overhead") is not None:
            runs = st["e2e"]["extra"]["runs"]
            w(
                f"| Dagster overhead visible | `mlcost run` {_s(s['e2e'])} − its steps "
                f"{_s(s['dagster_steps'])} = {_s(s['dagster_overhead'])} over {len(runs)} runs (the steps "
                "also carry Dagster's per-partition event writes, the asset checks and the catalog refresh); "
                f"process start + definitions load {_s(imp.get('seconds'))} (bare Python "
                f"{_s(imp.get('extra', {}).get('python_startup'))}) | shown |"
            )
        w("")

    for key in sorted(sizes, key=int):
        size = sizes[key]
        lines = int(key)
        st = size["stages"]
        s = summarize(size)
        gen = size["generation"]
        w(f"## {_size(lines)} lines ({lines:,})")
        w("")
        cached = "cached from an earlier run" if gen.get("cached") else "generated in this run"
        w(
            f"Generation: {_s(gen.get('seconds'))}, {gen.get('extra', {}).get('bytes', 0) / 1e6:,.0f} MB in "
            f"{gen.get('extra', {}).get('files', '?')} file(s), peak {_gb(gen.get('peak_rss'))} GB ({cached}"
            f"{', ' + gen['generated_on'] if gen.get('generated_on') else ''})."
        )
        w("")
        if order := size.get("time_order"):
            w(
                f"The same month in time order (its lines ordered by usage start, resource and place, in "
                f"{order.get('extra', {}).get('files', '?')} file(s); bench/stages.py, `stage_time_order`): written "
                f"in {_s(order.get('seconds'))} ({'cached from an earlier run' if order.get('cached') else 'in this run'})."
            )
            w("")
        w("| stage | seconds | × floor | CPU s | × floor CPU | rows | rows/s | peak GB | load |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for name, res in st.items():
            label = STAGE_LABELS.get(name, name)
            floor = _floor_of(name, st) if name != "floor_copy_time_ordered" else _floor_of("ingest", st)
            if not res.get("ok"):
                peak, load = _gb(res.get("peak_rss")), res["load_before"]
                w(f"| {label} | {res.get('error')} | | | | | | {peak} | {load:.1f} |")
                continue
            ratio = f"{res['seconds'] / floor['seconds']:.2f}" if floor else "–"
            cpu = res.get("cpu_seconds")
            cpu_ratio = (
                f"{cpu / floor['cpu_seconds']:.2f}" if floor and cpu and floor.get("cpu_seconds") else "–"
            )
            w(
                f"| {label} | {res['seconds']:.2f} | {ratio} | {_s(cpu, unit='')} | {cpu_ratio} | "
                f"{res['rows']:,} | {_rate(res.get('rows_per_second'))} | {_gb(res['peak_rss'])} | "
                f"{res['load_before']:.1f} |"
            )
        if s["compute"] is not None:
            w(
                "| **month's pipeline compute** (ingest + attribution + GPU/predictions) | "
                f"{s['compute']:.2f} | {_x(s['compute_ratio'], bare=True)} | "
                f"{_s(s['compute_cpu'], unit='')} | {_x(s['compute_cpu_ratio'], bare=True)} | | | | |"
            )
        w("")
        _render_breakdowns(w, st, s, _days_in(meta["month"]))
    skipped = [k for k in sizes if "pandas" not in sizes[k]["stages"]]
    if skipped:
        cap = meta.get("pandas_max_lines") or 0
        reason = "pandas was switched off (--no-pandas)" if not cap else f"pandas runs up to {cap:,} lines"
        w(f"The pandas baseline was not run at {', '.join(_size(int(k)) for k in skipped)} lines: {reason}.")
        w("")
    _render_paper(w, sizes)
    w("## Not measured here")
    w("")
    w(
        "- **1B lines**: only on paper (above). A 1B-line month is ~80 GB of CUR Parquet and as much again in "
        "the lake: more disk and hours than this shared 2-core machine has."
    )
    if not any(int(k) >= 100_000_000 for k in sizes):
        w(
            "- **100M lines**: not run by default (at this machine's rates each stage would take tens of "
            "minutes to hours, and the month is ~8 GB of Parquet plus as much again for the lake). "
            "`.venv/bin/python bench/run.py --lines 100000000` runs it (pandas is skipped above "
            "`--pandas-max-lines`, 10M by default)."
        )
    w(
        "- GPU logs and prediction counts: the GPU/prediction stage and `mlcost run` run with no GPU or "
        "prediction source, so they measure the SQL over the bill (GPU hours from cost_attribution) and the "
        "empty joins, not the log readers."
    )
    w("")
    if analysis:
        w(analysis.rstrip())
        w("")
    return "\n".join(lines_out)


# The billion-line month on paper: what each stage costs per million lines at the largest size measured, scaled.
PAPER_LINES = 1_000_000_000
PAPER_MONTHS = 12  # a year's backfill: the billing periods are the partitions that run side by side
PAPER_WORKERS = (1, 2, 8)


def paper_month(sizes: dict) -> dict | None:
    """Seconds of a PAPER_LINES month per stage, from the largest measured size's seconds per line; and the time
    of a PAPER_MONTHS backfill on W workers (billing periods side by side: MLCOST_EXECUTOR=multiprocess)."""
    measured = [int(k) for k in sizes if summarize(sizes[k])["compute"] is not None]
    if not measured:
        return None
    base = max(measured)
    st = sizes[str(base)]["stages"] if str(base) in sizes else sizes[base]["stages"]
    scale = PAPER_LINES / base
    stages = {name: st[name]["seconds"] * scale for name in COMPUTE_STAGES}
    month = sum(stages.values())
    restate = st.get("restate_day")
    return {
        "from_lines": base,
        "stages": stages,
        "month": month,
        # A day's rerun reads a day's row groups: its time scales with the day's lines, like the month's.
        "restate_day": restate["seconds"] * scale if restate and restate.get("ok") else None,
        "backfill": {w: month * -(-PAPER_MONTHS // w) for w in PAPER_WORKERS},
    }


def _render_paper(w, sizes: dict) -> None:
    paper = paper_month(sizes)
    if paper is None:
        return
    w("## A billion-line month, on paper")
    w("")
    w(
        f"Not measured: each stage's seconds per line at {_size(paper['from_lines'])} lines (the largest size "
        f"measured above) × {PAPER_LINES:,} lines. It holds if the time per line does not grow with the month "
        "(compare the sizes above: every stage streams the month through DuckDB, whose sort and aggregation "
        "spill to disk past MLCOST_DUCKDB_MEMORY_LIMIT, so peak memory stays at the limit, not the month). A "
        "month is one partition (one ingestion, one daily run: its days are checked together), so a single month "
        "does not get faster with workers; a backfill of months does (MLCOST_EXECUTOR=multiprocess, "
        "docs/deployment.md), and the DuckDB threads per step (MLCOST_DUCKDB_THREADS) do."
    )
    w("")
    # Above ONE_SORT_MAX_LINES a delivery is written in two passes (pipelines/billing/ingest.py), which a month
    # measured at or below it did not run: its ingestion rate is not that of a billion-line month.
    two_passes = paper["from_lines"] <= ONE_SORT_MAX_LINES < PAPER_LINES
    w("| stage | seconds for 1B lines | hours |")
    w("|---|---:|---:|")
    for name, secs in paper["stages"].items():
        label = (
            f"{name} (at the one sort's rate: a lower bound, below)"
            if name == "ingest" and two_passes
            else name
        )
        w(f"| {label} | {secs:,.0f} | {secs / 3600:.2f} |")
    w(f"| **month's pipeline compute** | {paper['month']:,.0f} | {paper['month'] / 3600:.2f} |")
    if paper["restate_day"] is not None:
        w(
            f"| one day's rerun (attribution) | {paper['restate_day']:,.0f} | {paper['restate_day'] / 3600:.2f} |"
        )
    w("")
    cells = ", ".join(
        f"{workers} worker{'s' if workers > 1 else ''}: {secs / 3600:.1f} h"
        for workers, secs in paper["backfill"].items()
    )
    w(
        f"A {PAPER_MONTHS}-month backfill of 1B-line months (months side by side, each worker a machine like "
        f"this one or a run pod with its cores): {cells}."
    )
    w("")
    if two_passes:
        w(
            f"The ingestion row scales a delivery of {_size(paper['from_lines'])} lines, written in one sort with its "
            f"repeated text as codes. A delivery of more than {ONE_SORT_MAX_LINES:,} lines is written in two passes "
            "(one folder per usage day, then each day sorted): the 10M month forced through them took 3.8 s a "
            "million lines and the 100M month 4.4 s (the notes below, section 19); the 300M month 6.7 s on a day "
            "this machine ran ~40 % slower, ~4.8 s at the 100M figure's speed (section 20). So a billion-line "
            "month's ingestion and compute take longer than these rows say."
        )
        w("")


def _render_breakdowns(w, st: dict, s: dict, days: int) -> None:
    parts_rows = []
    for name in ("ingest", "ingest_time_ordered", "attribute", "gpu_predictions", "restate_day", "pandas"):
        res = st.get(name)
        if res and res.get("ok") and res.get("extra", {}).get("parts"):
            parts = res["extra"]["parts"]
            text = ", ".join(f"{k} {v:.2f}" for k, v in sorted(parts.items(), key=lambda kv: -kv[1]))
            parts_rows.append(f"| {name} | {text} |")
    if parts_rows:
        w("Where each stage's seconds go (ingest parts are timed by wrapping its functions from outside):")
        w("")
        w("| stage | parts (seconds) |")
        w("|---|---|")
        for row in parts_rows:
            w(row)
        w("")
    day, month = st.get("restate_day"), st.get("attribute")
    if day and day.get("ok") and month and month.get("ok"):
        one = day["extra"]["parts"]["attribute"]
        whole = month["extra"]["parts"]["attribute"]
        w(
            f"Restatement: attributing one day ({day['extra']['day']}, {day['rows']:,} lines) took "
            f"{one:.2f} s; the whole month took {whole:.2f} s, so one day costs {one / whole:.0%} of the "
            f"month (one day's share of the lines would be {1 / days:.1%})."
            + (
                f" Its attribution query read {read:,} lines of line_items (the day's, and those spanning it: the "
                "row groups of that day, line_items being clustered by usage day)."
                if (read := day["extra"].get("lines_read"))
                else ""
            )
        )
        w("")
    rerun = st.get("rerun_day")
    if rerun and rerun.get("ok"):
        x = rerun["extra"]
        one, month = x["run"]["steps"], x["month_daily_tables_steps"]
        steps = ", ".join(f"{k} {v:.1f} of {month[k]:.1f}" for k, v in one.items() if k in month)
        w(
            f"One day rerun through Dagster after `mlcost run` (the daily_tables job for {x['day']}, as the UI's "
            f"materialization of one daily partition; {rerun['rows']:,} lines that day): the run took "
            f"{x['run']['run_seconds']:.2f} s, {x['share_of_month_run']:.1%} of the month's daily_tables run "
            f"({x['month_daily_tables_seconds']:.2f} s; a day's share of the lines is {1 / days:.1%}). Its steps, "
            f"seconds of the day's run of the month's: {steps}."
        )
        w("")
    e2e = st.get("e2e")
    if e2e and e2e.get("ok"):
        x = e2e["extra"]
        w(
            "`mlcost run` by Dagster run (times from the Dagster instance; steps are the asset steps, events "
            "are rows written to the instance's SQLite event log):"
        )
        w("")
        w("| run | status | run s | steps s | run − steps s | events (asset planned + done) | steps s |")
        w("|---|---|---:|---:|---:|---:|---|")
        for run in x["runs"]:
            steps = ", ".join(f"{k} {v:.1f}" for k, v in run["steps"].items())
            w(
                f"| {run['job']} | {run['status']} | {run['run_seconds']:.2f} | {run['steps_seconds']:.2f} | "
                f"{run['run_seconds'] - run['steps_seconds']:.2f} | {run.get('events', '–')} "
                f"({run.get('asset_events', '–')}) | {steps} |"
            )
        w("")
        runs_wall = sum(r["run_seconds"] for r in x["runs"])
        inside = x.get("run_pipeline_seconds")
        w(f"- whole command: {e2e['seconds']:.2f} s (CPU {_s(e2e.get('cpu_seconds'))})")
        if inside is not None:
            w(
                "- of which process start, imports, source discovery and the summary: "
                f"{e2e['seconds'] - inside:.2f} s; `run_pipeline` {inside:.2f} s"
            )
            w(
                "- between and around the three runs (run creation, planned-event logging): "
                f"{inside - runs_wall:.2f} s"
            )
        w(f"- inside the runs but outside the steps: {runs_wall - x['steps_seconds']:.2f} s")
        if s.get("orchestration") is not None:
            more = s["orchestration"]
            w(
                f"- the same month's compute run directly (ingest + attribution + GPU/predictions) took "
                f"{s['compute']:.2f} s: `mlcost run` took {abs(more):.2f} s "
                + ("more" if more >= 0 else "less")
                + " (Dagster's runs and event storage, the asset checks' queries and the catalog refreshes "
                "add; the rest is run-to-run variation, which follows the machine's load)"
            )
        w("")
    pd_res, ing, att = st.get("pandas"), st.get("ingest"), st.get("attribute")
    if pd_res and pd_res.get("ok") and ing and ing.get("ok") and att and att.get("ok"):
        pp = pd_res["extra"]["parts"]
        w("pandas baseline against the pipeline, same data:")
        w("")
        w("| | pandas s | pipeline s | pipeline / pandas | pandas peak GB | pipeline peak GB |")
        w("|---|---:|---:|---:|---:|---:|")
        w(
            f"| ingestion | {pp['ingest']:.2f} | {ing['seconds']:.2f} | "
            f"{ing['seconds'] / pp['ingest']:.2f} | {_gb(pd_res['peak_rss'])} | {_gb(ing['peak_rss'])} |"
        )
        w(
            f"| attribution | {pp['attribute']:.2f} | {att['seconds']:.2f} | "
            f"{att['seconds'] / pp['attribute']:.2f} | | {_gb(att['peak_rss'])} |"
        )
        total = ing["seconds"] + att["seconds"]
        w(f"| both | {pd_res['seconds']:.2f} | {total:.2f} | {total / pd_res['seconds']:.2f} | | |")
        w("")
        a, b = pd_res["extra"].get("by_category", {}), att["extra"].get("by_category", {})
        worst = max((abs(a.get(k, 0) - b.get(k, 0)) for k in set(a) | set(b)), default=0.0)
        agree = "agree to the cent" if worst < 0.01 else f"differ by up to {worst:,.2f}"
        w(
            f"The pandas and pipeline effective cost per category {agree} on this month "
            f"({', '.join(f'{k} {v:,.2f}' for k, v in sorted(b.items()))}). The pandas version does less: "
            "no manifests, validation, partitioned atomic publishing, restatement history or multi-day "
            "splitting."
        )
        w("")


def _days_in(month: str) -> int:
    year, number = (int(x) for x in month.split("-"))
    return calendar.monthrange(year, number)[1]


def _s(value: float | None, unit: str = " s") -> str:
    return "–" if value is None else f"{value:.2f}{unit}"


def _x(value: float | None, bare: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:.2f}" if bare else f"{value:.2f}×"


def write_docs(results: dict) -> None:
    """Write docs/benchmarks.md (with bench/analysis.md appended when present)."""
    analysis = ANALYSIS.read_text() if ANALYSIS.exists() else None
    DOCS.write_text(render(results, analysis))
    print(f"wrote {DOCS}")


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or re-render docs from saved results); exit 1 when a stage failed."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1M lines only (a smoke test of the benchmark)")
    parser.add_argument(
        "--lines", type=int, action="append", help="a size to run (repeatable); overrides the defaults"
    )
    parser.add_argument("--month", default="2026-10", help="the generated billing month (YYYY-MM)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/benchmarks.md")
    parser.add_argument("--no-pandas", action="store_true", help="skip the pandas baseline")
    parser.add_argument(
        "--pandas-max-lines", type=int, default=10_000_000, help="largest size pandas runs at"
    )
    parser.add_argument(
        "--pandas-memory-limit",
        type=float,
        default=min(12.0, psutil.virtual_memory().total / GB / 2),
        help="GB; pandas is stopped above it (default: 12, or half the RAM if less)",
    )
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds one stage may take")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="generated months and results")
    parser.add_argument("--json", type=Path, help="also write the results document here")
    parser.add_argument(
        "--keep-work", action="store_true", help="keep each size's lake (under the cache dir)"
    )
    parser.add_argument("--from-json", type=Path, help="only re-render docs/benchmarks.md from saved results")
    args = parser.parse_args(argv)
    args.cache_dir = args.cache_dir.resolve()
    # A plain `kill` stops the current stage's process and removes the work folder, like Ctrl-C.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    if args.from_json:
        write_docs(json.loads(args.from_json.read_text()))
        return 0
    results = run_benchmark(args)
    if not args.no_docs:
        write_docs(results)
    failed = [
        f"{_size(int(k))} {name}"
        for k, size in results["sizes"].items()
        for name, res in size["stages"].items()
        if not res.get("ok")
    ]
    if not results["overhead"]["import_definitions"].get("ok"):
        failed.append("import_definitions")
    if failed:
        print(f"failed stages: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
