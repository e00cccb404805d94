"""Render benchmark: our validate + render pipeline beside the official MJML compiler.

Measures, in one run on the sample issue (``issues/2022-09-07.yaml``, variant "both"):

* our whole pipeline per run: ``load_issue`` (read + validate) and ``Renderer.render``
  (HTML and plaintext), with one Renderer built beforehand; the cold first run is
  reported apart;
* its steps alone: validate, render, Jinja to MJML, Jinja to text, the mjml-python
  compile, and the compile plus our CSS inlining (``compile_mjml``);
* the official MJML compiler (npm ``mjml``) on the same MJML source, timed inside one
  long-lived node process (``bench/render_mjml.js``), so node's start-up is not counted;
* the fair peer of our MJML -> inlined HTML step: the official compiler on the same MJML
  with our ``issue.css`` in ``<mj-style inline="inline">``, which MJML inlines with juice
  the way its users inline CSS (same node process set-up; its HTML is checked to carry
  the inlined styles);
* the official compiler the way a Python program without a node service would use it:
  its command-line tool, one subprocess per render, timed as wall-clock from Python (node
  start-up and loading ``mjml`` included). Its HTML is checked against the in-process one.

Prints a table and PASS/FAIL per target, writes the figures into the "Rendering" section
of BENCHMARKS.md (not with ``--quick``), and exits 0 whatever the targets say. Exits 1
with a message when node or npm is missing or the npm install fails.

Usage: python bench/render.py [--quick] [--runs N] [--no-write]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from report import cpu_model, markers, write_section

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SAMPLE = ROOT / "issues" / "2022-09-07.yaml"
NODE_SCRIPT = BENCH / "render_mjml.js"
MJML_CLI = BENCH / "node_modules" / ".bin" / "mjml"
# The command-line spelling of render_mjml.js's OPTIONS, so both runs do the same work;
# --noStdoutFileComment keeps the tool from prefixing the HTML with a comment.
MJML_CLI_OPTIONS = (
    "--noStdoutFileComment",
    "--config.validationLevel=skip",
    "--config.keepComments=false",
    "--config.fonts={}",
    "--config.beautify=false",
    "--config.minify=false",
)
BASE_URL = "https://news.example.org"

PIPELINE_TARGET_MS = 30.0
SPEEDUP_TARGET = 3.0
INLINE_SPEEDUP_TARGET = 3.0
FULL_RUNS = 50
MIN_FULL_RUNS = 20
QUICK_RUNS = 5

BEGIN, END = markers("render.py")


class BenchError(Exception):
    """The benchmark cannot run here (a missing tool or a failed install)."""


@dataclass(frozen=True)
class Timing:
    """Wall-clock times of one measured step, in milliseconds."""

    label: str
    runs_ms: list[float]
    cold_ms: float | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.runs_ms)

    @property
    def p90(self) -> float:
        if len(self.runs_ms) < 2:
            return self.runs_ms[0]
        return statistics.quantiles(self.runs_ms, n=10, method="inclusive")[8]


@dataclass(frozen=True)
class Official:
    """What the node side reported for the official MJML compiler."""

    timing: Timing
    version: str
    node: str
    load_ms: float
    html_bytes: int
    html_sha256: str
    html: str


@dataclass(frozen=True)
class Ours:
    """Our side: the timings and what the official compiler is run and checked on."""

    timings: dict[str, Timing]
    source: str
    css: str
    html: str
    html_bytes: int
    titles: list[str]
    import_ms: float


def time_runs(label: str, fn: Callable[[], object], runs: int) -> Timing:
    """Call ``fn`` once untimed (warm-up), then ``runs`` times, each timed alone."""
    fn()
    gc.collect()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return Timing(label, times)


def measure_ours(runs: int) -> Ours:
    """Time our pipeline and its steps."""
    start = time.perf_counter()
    import mjml
    from markupsafe import escape

    from newsletter.issues.loader import load_issue
    from newsletter.rendering.renderer import Renderer, compile_mjml
    from newsletter.vocabulary import Variant

    import_ms = (time.perf_counter() - start) * 1000

    variant = Variant("both")
    start = time.perf_counter()
    renderer = Renderer(BASE_URL)
    first = renderer.render(load_issue(SAMPLE), variant)
    cold_ms = (time.perf_counter() - start) * 1000

    issue = load_issue(SAMPLE)
    # The Jinja step on its own: the same context and template the renderer uses, so the
    # MJML source handed to node is byte for byte what our pipeline compiles. The private
    # members are used because Renderer has no public way to stop after the Jinja step;
    # the check below fails loudly if they drift from what render() does.
    context = renderer._context(issue, variant, None)
    mjml_template = renderer.env.get_template("email/issue.mjml.j2")
    text_template = renderer.env.get_template("email/issue.txt.j2")
    source = mjml_template.render(context)
    inliner = renderer.inliner
    html, text = compile_mjml(source, inliner), text_template.render(context)
    if html != first.html or text != first.text:
        raise BenchError("the MJML source taken apart differs from what Renderer.render compiles")

    def pipeline() -> object:
        return renderer.render(load_issue(SAMPLE), variant)

    whole = time_runs("ours: validate + render, HTML and text", pipeline, runs)
    # In table order; a label starting with "·" is a part of the nearest row above it
    # with one "·" less.
    timings = {
        "pipeline": Timing(whole.label, whole.runs_ms, cold_ms),
        "validate": time_runs("· validate (load_issue)", lambda: load_issue(SAMPLE), runs),
        "render": time_runs(
            "· render (Renderer.render)", lambda: renderer.render(issue, variant), runs
        ),
        "jinja_mjml": time_runs(
            "· · Jinja -> MJML source", lambda: mjml_template.render(context), runs
        ),
        "jinja_text": time_runs(
            "· · Jinja -> plaintext", lambda: text_template.render(context), runs
        ),
        "inline": time_runs(
            "· · MJML -> inlined HTML: mjml-python + StyleInliner (compile_mjml)",
            lambda: compile_mjml(source, inliner),
            runs,
        ),
        # The same call and options as in newsletter.render.compile_mjml.
        "compile": time_runs(
            "ours: mjml-python compile alone",
            lambda: mjml.mjml2html(source, disable_comments=True, fonts={}),
            runs,
        ),
    }
    print(f"(imports of the renderer and the issue model: {import_ms:.0f} ms, not counted)")
    # Every title as it appears in HTML (Jinja autoescapes), to check the CLI's output.
    titles = [
        str(escape(title))
        for paper in issue.papers
        for title in (paper.title, paper.title_zh)
        if title
    ]
    missing = [t for t in titles if t not in first.html]
    if missing:
        raise BenchError(f"titles missing from our own HTML: {missing}")
    return Ours(
        timings, source, renderer._inline_css, first.html, first.html_bytes, titles, import_ms
    )


def ensure_official_mjml() -> None:
    """Install the npm ``mjml`` pinned in bench/package.json into bench/node_modules if absent."""
    if shutil.which("node") is None:
        raise BenchError("node is not installed; install Node.js 18 or later (Debian: nodejs npm)")
    if (BENCH / "node_modules" / "mjml" / "package.json").is_file():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise BenchError("npm is not installed; install it (Debian: npm) to fetch the mjml package")
    print("installing the official mjml compiler into bench/node_modules ...", file=sys.stderr)
    done = subprocess.run(
        [npm, "install", "--prefix", str(BENCH), "--no-package-lock", "--no-audit", "--no-fund"],
        cwd=BENCH,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"npm install failed:\n{done.stderr.strip()}")


def measure_official(
    path: Path, runs: int, label: str = "official MJML: mjml2html alone (node, in-process)"
) -> Official:
    """Run bench/render_mjml.js on the MJML file ``path`` and parse what it reports."""
    done = subprocess.run(
        ["node", str(NODE_SCRIPT), str(path), str(runs)],
        cwd=BENCH,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"the official MJML run failed:\n{done.stderr.strip()}")
    if done.stderr.strip():
        print(done.stderr.strip(), file=sys.stderr)
    report = json.loads(done.stdout)
    timing = Timing(
        label,
        [float(t) for t in report["runs_ms"]],
        float(report["cold_ms"]),
    )
    return Official(
        timing, str(report["mjml"]), str(report["node"]), float(report["load_ms"]),
        int(report["html_bytes"]), str(report["html_sha256"]), str(report["html"]),
    )


def with_inlined_style(source: str, css: str) -> str:
    """The MJML ``source`` with ``css`` in ``<mj-style inline="inline">``, as MJML users inline.

    Raises BenchError when the source has no ``</mj-head>`` to put it before.
    """
    if "</mj-head>" not in source:
        raise BenchError("the MJML source has no <mj-head>")
    return source.replace("</mj-head>", f'<mj-style inline="inline">{css}</mj-style></mj-head>', 1)


def check_inlined(official: Official, ours_html: str) -> None:
    """The official HTML carries our rules in style attributes, as ours does; else BenchError."""
    for needle in ("font-size:18px", "border-top:1px solid #d0d7de", "white-space:nowrap"):
        if needle not in ours_html.replace(": ", ":"):
            raise BenchError(f"our HTML lacks {needle!r}; update check_inlined")
        if needle not in official.html.replace(": ", ":"):
            raise BenchError(f"official MJML + juice did not inline {needle!r}")


def measure_official_cli(path: Path, runs: int, official: Official, titles: list[str]) -> Timing:
    """Time the official command-line tool, one subprocess per render of ``path``.

    Each run is the wall-clock of ``subprocess.run`` as a Python program would call it:
    node's start-up, loading ``mjml``, the compile and reading the HTML back from the pipe.
    The first invocation is reported apart as the cold run. Every output is checked to be
    the in-process HTML byte for byte (the tool adds one newline) and to hold every title;
    raises BenchError otherwise.
    """
    command = [str(MJML_CLI), str(path), "-s", *MJML_CLI_OPTIONS]

    def invoke() -> float:
        start = time.perf_counter()
        done = subprocess.run(command, cwd=BENCH, capture_output=True, check=False)
        elapsed = (time.perf_counter() - start) * 1000
        if done.returncode != 0 or done.stderr.strip():
            raise BenchError(
                f"the mjml command-line tool failed (exit {done.returncode}):\n"
                f"{done.stderr.decode('utf-8', 'replace').strip()}"
            )
        html = done.stdout.removesuffix(b"\n")
        if hashlib.sha256(html).hexdigest() != official.html_sha256:
            raise BenchError(
                f"the mjml command-line tool gave other HTML ({len(html):,} bytes) than "
                f"mjml2html in-process ({official.html_bytes:,} bytes); check MJML_CLI_OPTIONS"
            )
        text = html.decode("utf-8")
        missing = [t for t in titles if t not in text]
        if not text or missing:
            raise BenchError(f"the mjml command-line tool's HTML lacks titles: {missing}")
        return elapsed

    cold_ms = invoke()
    return Timing(
        "official MJML: CLI per invocation (subprocess wall-clock)",
        [invoke() for _ in range(runs)],
        cold_ms,
    )


def targets(
    ours: dict[str, Timing], official: Official, cli: Timing, juiced: Official
) -> list[tuple[str, bool, str]]:
    """The targets: (name, met, figures).

    First the two against official MJML + juice (issue #11): our MJML -> inlined HTML
    step at least 3x faster, and our whole pipeline no slower than its compile alone.
    Then the earlier ones: the 30 ms budget, 3x against the official render without
    inlining (as written), and that 3x read per CLI invocation, a different reading
    (node start-up counted) that never changes the verdict of the one before it.
    """
    whole = ours["pipeline"].median
    speedup = official.timing.median / whole
    cli_speedup = cli.median / whole
    inline_speedup = juiced.timing.median / ours["inline"].median
    whole_vs_juiced = juiced.timing.median / whole
    return [
        (
            f"MJML -> inlined HTML >= {INLINE_SPEEDUP_TARGET:.0f}x faster than official MJML "
            "+ juice",
            inline_speedup >= INLINE_SPEEDUP_TARGET,
            f"{inline_speedup:.2f}x ({juiced.timing.median:.2f} ms / "
            f"{ours['inline'].median:.2f} ms){_slower(inline_speedup)}",
        ),
        (
            "whole validate + render no slower than official MJML + juice compile alone",
            whole_vs_juiced >= 1.0,
            f"{whole_vs_juiced:.2f}x ({juiced.timing.median:.2f} ms / {whole:.2f} ms)"
            f"{_slower(whole_vs_juiced)}",
        ),
        (
            f"whole pipeline median <= {PIPELINE_TARGET_MS:.0f} ms",
            whole <= PIPELINE_TARGET_MS,
            f"{whole:.2f} ms",
        ),
        (
            f"whole pipeline >= {SPEEDUP_TARGET:.0f}x faster than official MJML render alone",
            speedup >= SPEEDUP_TARGET,
            f"{speedup:.2f}x ({official.timing.median:.2f} ms / {whole:.2f} ms){_slower(speedup)}",
        ),
        (
            "second reading, not the target as written: whole pipeline vs official MJML CLI "
            f"per invocation (>= {SPEEDUP_TARGET:.0f}x, node start-up counted)",
            cli_speedup >= SPEEDUP_TARGET,
            f"{cli_speedup:.1f}x ({cli.median:.1f} ms / {whole:.2f} ms){_slower(cli_speedup)}",
        ),
    ]


def _slower(speedup: float) -> str:
    return f", i.e. ours is {1 / speedup:.1f}x slower" if speedup < 1 else ""


def table(rows: list[Timing]) -> list[str]:
    """A Markdown table (also readable in a terminal)."""
    width = max(len(r.label) for r in rows)
    lines = [
        f"| {'step':<{width}} | median ms | p90 ms | min ms | cold first run ms | runs |",
        f"|{'-' * (width + 2)}|----------:|-------:|-------:|------------------:|-----:|",
    ]
    for r in rows:
        cold = f"{r.cold_ms:.2f}" if r.cold_ms is not None else ""
        lines.append(
            f"| {r.label:<{width}} | {r.median:9.2f} | {r.p90:6.2f} | {min(r.runs_ms):6.2f} | "
            f"{cold:>17} | {len(r.runs_ms):4d} |"
        )
    return lines




def _verdict(met: bool) -> str:
    return "PASS" if met else "FAIL"


def report(ours: Ours, official: Official, cli: Timing, juiced: Official, runs: int) -> str:
    """The generated part of BENCHMARKS.md's Rendering section."""
    timings = ours.timings
    whole = timings["pipeline"]
    compile_ms = timings["compile"].median
    inline_ms = timings["inline"].median
    ratio_compile = official.timing.median / compile_ms
    ratio_inline = official.timing.median / inline_ms
    rows = targets(timings, official, cli, juiced)
    as_written, per_invocation = rows[3][1], rows[4][1]
    speedup = official.timing.median / whole.median
    cli_speedup = cli.median / whole.median
    # What a fresh Python process pays before its first issue (interpreter start not counted).
    fresh_ms = ours.import_ms + (whole.cold_ms or 0.0)
    fresh_note = (
        f"even process for process ours is at least {SPEEDUP_TARGET:.0f}x ahead"
        if cli.median / fresh_ms >= SPEEDUP_TARGET
        else "process for process the two are of the same order, and the per-invocation "
        "lead holds only while our process stays up to render many variants or issues"
    )
    lines = [
        BEGIN,
        f"Measured {dt.datetime.now(dt.UTC).date().isoformat()} on {os.cpu_count()} cores "
        f"({cpu_model()}), Python {platform.python_version()}, "
        f"mjml-python {metadata.version('mjml-python')}, "
        f"lxml {metadata.version('lxml')}, cssutils {metadata.version('cssutils')}, "
        f"node {official.node}, npm mjml {official.version}; load average "
        f"{os.getloadavg()[0]:.1f} at the end (other jobs on the machine slow the figures).",
        "",
        f"Sample issue `issues/2022-09-07.yaml`, variant `both:*`, {runs} timed runs per step "
        "after one untimed warm-up; the cold first run is a fresh `Renderer` plus the first "
        "`load_issue` + `render` in the process (imports not counted). The official compiler "
        "gets the same MJML source our Jinja step produces, with `validationLevel: 'skip'`, "
        "no comments, no fonts, no beautify/minify; `require('mjml')` happens once "
        f"({official.load_ms:.0f} ms, not counted), as many untimed renders as timed ones warm "
        "V8 up, and each `await mjml2html(...)` is timed "
        "with `process.hrtime` in the same node process. The CLI row runs "
        "`bench/node_modules/.bin/mjml SOURCE.mjml -s` with the same options "
        f"(`{' '.join(MJML_CLI_OPTIONS)}`), one subprocess per render started from Python, "
        "timed as the wall-clock of `subprocess.run` (node start-up, loading `mjml`, the "
        "compile and the pipe included; its cold run is the first invocation); every output "
        "was checked to be the in-process HTML byte for byte and to hold every paper title. "
        "A row starting with `·` is a part of the nearest row above it with one `·` less. "
        "Targets are judged on medians; on a busy machine the min column is the closer "
        "figure for what a step costs by itself. "
        "The MJML + juice row is the fair peer of our MJML -> inlined HTML step: the same "
        "source with our `issue.css` in `<mj-style inline=\"inline\">`, which MJML inlines "
        "with juice, as its users do; its HTML was checked to carry the inlined rules "
        f"({juiced.html_bytes:,} bytes).",
        "",
        *table([*timings.values(), official.timing, juiced.timing, cli]),
        "",
        "| target | result | figures |",
        "|---|---|---|",
        *(f"| {name} | {_verdict(met)} | {figures} |" for name, met, figures in rows),
        "",
        "Against the fair peer, official MJML + juice (issue #11): our MJML -> inlined HTML "
        f"step is **{_verdict(rows[0][1])}** at {juiced.timing.median / inline_ms:.1f}x faster "
        f"by medians ({min(juiced.timing.runs_ms) / min(timings['inline'].runs_ms):.1f}x by "
        "the fastest runs), and our whole validate + render (HTML and text) is "
        f"**{_verdict(rows[1][1])}** at {juiced.timing.median / whole.median:.2f}x the speed "
        "of its compile alone by medians "
        f"({min(juiced.timing.runs_ms) / min(whole.runs_ms):.2f}x by the fastest runs).",
        "",
        f"The 3x target as written, against the official render alone in a warm node "
        f"process: **{_verdict(as_written)}** ({speedup:.2f}x{_slower(speedup)}). Read per "
        "invocation of the official command-line tool, the way a Python program without a "
        "long-running node service would call it once per rendered variant: "
        f"**{_verdict(per_invocation)}** ({cli_speedup:.1f}x{_slower(cli_speedup)}). The "
        f"second reading measures node's start-up and loading `mjml` ({cli.median:.0f} ms "
        f"per invocation against {official.timing.median:.2f} ms of rendering), not faster "
        "rendering on our side; a node process kept running would bring the official side "
        "back to the in-process figure. Our figure is for a warm Python process: a fresh "
        f"one also pays {ours.import_ms:.0f} ms of imports and a {whole.cold_ms or 0.0:.0f} "
        f"ms first run, {fresh_ms:.0f} ms before its first issue (interpreter start-up not "
        f"counted), against {cli.median:.0f} ms for each CLI invocation "
        f"({cli.median / fresh_ms:.1f}x): {fresh_note}.",
        "",
        f"Apples to apples, MJML to HTML only: mjml-python is {ratio_compile:.1f}x faster "
        f"than the official compiler ({compile_ms:.2f} ms vs {official.timing.median:.2f} ms); "
        f"with our inlining added, {ratio_inline:.2f}x ({inline_ms:.2f} ms)"
        f"{_slower(ratio_inline)}. HTML produced: ours {ours.html_bytes:,} bytes after "
        f"inlining, official {official.html_bytes:,} bytes.",
        END,
    ]
    return "\n".join(lines)



def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a few runs for a smoke test")
    parser.add_argument("--runs", type=int, help=f"timed runs per step (default {FULL_RUNS})")
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args(argv)
    runs = args.runs or (QUICK_RUNS if args.quick else FULL_RUNS)
    if runs < 1 or (not args.quick and runs < MIN_FULL_RUNS):
        parser.error(f"--runs must be at least {MIN_FULL_RUNS} (or use --quick)")
    try:
        ensure_official_mjml()
        ours = measure_ours(runs)
        with tempfile.TemporaryDirectory(prefix="bench-render-") as tmp:
            path = Path(tmp) / "issue.mjml"
            path.write_text(ours.source, encoding="utf-8")
            official = measure_official(path, runs)
            cli = measure_official_cli(path, runs, official, ours.titles)
            inlined = Path(tmp) / "issue-inline.mjml"
            inlined.write_text(with_inlined_style(ours.source, ours.css), encoding="utf-8")
            juiced = measure_official(
                inlined, runs, "official MJML + juice: mj-style inline (node, in-process)"
            )
            check_inlined(juiced, ours.html)
    except BenchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print("\n".join(table([*ours.timings.values(), official.timing, juiced.timing, cli])))
    print()
    for name, met, figures in targets(ours.timings, official, cli, juiced):
        print(f"{_verdict(met)}  {name}: {figures}")
    if args.quick or args.no_write:
        print("(BENCHMARKS.md not updated)")
    else:
        write_section("render.py", "Rendering", report(ours, official, cli, juiced, runs))
        print("wrote the figures into BENCHMARKS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
