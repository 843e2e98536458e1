"""Where the time goes: py-spy samples of a live Faust worker, cProfile of the pure loop."""

import cProfile
import io
import pstats
import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.workload import Enricher

FRAME = re.compile(r"^(?P<func>.*) \((?P<path>[^()]*)\)$")
LAYERS = (
    ("our code (weather_app, agents, models)", ("/weather_app/", "/agents/", "/models/")),
    ("faust", ("/faust/",)),
    ("mode", ("/mode/",)),
    ("aiokafka", ("/aiokafka/",)),
    ("kafka protocol (kafka-python compat)", ("/kafka/",)),
    ("asyncio", ("/asyncio/",)),
    ("logging", ("/logging/",)),
    ("prometheus_client", ("/prometheus_client/",)),
    ("click / runpy (entry point)", ("/click/", "runpy")),
)


def py_spy() -> str | None:
    candidate = Path(sys.executable).with_name("py-spy")
    if candidate.exists():
        return str(candidate)
    return shutil.which("py-spy")


def layer_of(path: str) -> str:
    path = "/" + path.lstrip("/")  # py-spy may print paths relative to sys.path
    for name, needles in LAYERS:
        if any(needle in path for needle in needles):
            return name
    if "site-packages" in path:
        return "other packages"
    return "stdlib / interpreter"


def _frame(text: str) -> tuple[str, str]:
    match = FRAME.match(text.strip())
    if not match:
        return text.strip(), ""
    return match["func"], match["path"]


def _short(path: str) -> str:
    for marker in ("site-packages/", "/lib/python3", "/work/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return path


@dataclass
class SpyProfile:
    samples: int = 0
    self_layers: Counter[str] = field(default_factory=Counter)
    incl_layers: Counter[str] = field(default_factory=Counter)
    self_funcs: Counter[str] = field(default_factory=Counter)
    incl_funcs: Counter[str] = field(default_factory=Counter)

    def share(self, count: int) -> str:
        return f"{100 * count / self.samples:.1f}%" if self.samples else "-"


def summarise_raw(raw: str) -> SpyProfile:
    """Fold py-spy's raw (collapsed) stacks: self time by layer and function, and inclusive."""
    profile = SpyProfile()
    for line in raw.splitlines():
        stack, _, number = line.rpartition(" ")
        if not stack or not number.isdigit():
            continue
        count = int(number)
        frames = [_frame(text) for text in stack.split(";")]
        profile.samples += count
        func, path = frames[-1]
        profile.self_layers[layer_of(path)] += count
        profile.self_funcs[f"{func} ({_short(path)})"] += count
        # Inclusive counts start below the event loop: what a callback or task step spends.
        loop_frames = [i for i, (f, _) in enumerate(frames) if f == "BaseEventLoop._run_once"]
        if loop_frames:
            frames = frames[loop_frames[-1] + 1 :]
        for layer in {layer_of(p) for _, p in frames}:
            profile.incl_layers[layer] += count
        for name in {f"{f} ({_short(p)})" for f, p in frames}:
            profile.incl_funcs[name] += count
    return profile


def record_worker(pid: int, seconds: int, out: Path) -> SpyProfile | str:
    """Sample a running process for `seconds` at 100 Hz; a SpyProfile, or why there is none."""
    binary = py_spy()
    if binary is None:
        return "py-spy is not installed (pip install py-spy)"
    result = subprocess.run(
        [
            binary,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(seconds),
            "--rate",
            "100",
            "--nonblocking",
            "--nolineno",
            "--format",
            "raw",
            "--output",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=False,
    )
    if result.returncode != 0 or not out.exists():
        return f"py-spy failed ({result.returncode}): {result.stderr.strip()[-300:]}"
    return summarise_raw(out.read_text())


def profile_pure_loop(values: list[bytes], limit: int = 12) -> str:
    """cProfile of decode -> enrich -> encode over `values`: the top functions by own time."""
    enrich = Enricher()
    profiler = cProfile.Profile()
    profiler.enable()
    for value in values:
        enrich(value)
    profiler.disable()
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("tottime").print_stats(limit)
    lines = [line.rstrip() for line in text.getvalue().splitlines() if line.strip()]
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    header = [line for line in lines[:start] if "function calls" in line]
    return "\n".join(header + [_short_line(line) for line in lines[start:]])


def _short_line(line: str) -> str:
    return re.sub(r"/\S*?(site-packages|lib/python3\.\d+|/work/main)/", "", line)
