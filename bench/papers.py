"""The paper index with 100,000 papers: building it, re-indexing, search and paper pages.

3,000 issue files (one a day, 33 or 34 papers each: a third featured with an abstract and a
Chinese summary, the rest notable) are generated from the sample issue's words and
characters into a temporary folder. On each database (SQLite in a temporary file, and a
fresh schema in the PostgreSQL at NEWSLETTER_TEST_POSTGRES_URL) the script times:

- **build**: the index from the 3,000 files, as the first request after a start does it
  (reading and validating every file, then ``sync``);
- **re-index**: one issue file edited, then the index brought current again (the archive
  notices the changed file, reads it, and the index replaces that issue's papers);
- **search**: ``GET /search?q=...`` through the web app in-process (routing, index check,
  query, template), for a mix of English words and phrases, author names, two- and
  four-character Chinese words, filters by category and year, and arXiv identifiers;
- **paper page**: ``GET /papers/<ID>`` for random papers.

It also reports the size of the static site's search index for 10,000 papers. Targets
(issue 20): search p95 <= 50 ms, a paper page p95 <= 20 ms, build <= 30 s, re-index
<= 1 s, index <= 2 MB.

    .venv/bin/python bench/papers.py                 # 100,000 papers, writes BENCHMARKS.md
    .venv/bin/python bench/papers.py --issues 300    # 10,000 papers, nothing written
    .venv/bin/python bench/papers.py --build-only --database sqlite   # the build alone
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import re
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from report import cpu_model, markers, write_section  # noqa: E402

from newsletter.issues.loader import load_issue  # noqa: E402
from newsletter.issues.papers import paper_records  # noqa: E402
from newsletter.store.db import Database, make_engine, upgrade  # noqa: E402

SAMPLE = ROOT / "issues" / "2022-09-07.yaml"
FIRST_DAY = dt.date(2016, 1, 1)
CATEGORIES = ("LG", "CV", "CL", "AS", "RO")
TARGETS = {"search": 50.0, "paper page": 20.0, "build": 30.0, "re-index": 1.0}
SECRET = "bench-papers-3f9c2e71a84d0b6c5e17d9a2f40b8c61"
CLOCK = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
KINDS = ("word", "phrase", "author", "zh2", "zh4", "filtered", "id")  # of search queries


INTRO = """`bench/papers.py` (issue 20). 3,000 generated issue files, one a day, 33 or 34
papers each (a third featured, with a 120-200-word abstract and a 150-300-character Chinese
summary), 100,000 papers in all. Their words and characters are drawn from the sample
issue's, about 600 English words and 500 Chinese characters: every word is in a large share
of the papers, so searches match far more papers than in real text, where most words are
rare. The build is timed as the first request after a start does it (reading and
validating every file, then indexing); re-indexing as one edited file noticed and indexed
again; search and paper pages as GETs through the web app in-process (routing, the index
check, the query, the template), over a mix of English words and phrases, author names,
two- and four-character Chinese words, category and year filters and arXiv links."""


def children_cpu() -> float:
    """CPU seconds (user and system) of this process's ended child processes: the worker
    processes that read the issue files."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


class Words:
    """English words and Chinese characters of the sample issue, to make text from."""

    def __init__(self, rng: random.Random) -> None:
        sample = SAMPLE.read_text("utf-8")
        self.rng = rng
        self.english = sorted(set(re.findall(r"[a-z]{3,}", sample.lower())))
        self.chinese = sorted(set(re.findall(r"[\u4e00-\u9fff]", sample)))
        self.names = [f"{a} {b}" for a in "ABCDEFGHJKLMNPRSTWXYZ" for b in
                      sorted(set(re.findall(r"\b[A-Z][a-z]{3,}\b", sample)))]

    def english_text(self, words: int) -> str:
        return " ".join(self.rng.choice(self.english) for _ in range(words))

    def chinese_text(self, chars: int) -> str:
        return "".join(self.rng.choice(self.chinese) for _ in range(chars))


def make_issues(folder: Path, issues: int, rng: random.Random) -> list[str]:
    """``issues`` issue files from :data:`FIRST_DAY` on; returns every paper's identifier."""
    words = Words(rng)
    folder.mkdir(parents=True)
    ids: list[str] = []
    serial = 0
    for n in range(issues):
        day = FIRST_DAY + dt.timedelta(days=n)
        papers = []
        for k in range(33 + n % 3 // 2):
            serial += 1
            arxiv_id = f"{day.strftime('%y%m')}.{serial % 100000:05d}"
            ids.append(arxiv_id)
            paper = {
                "category": rng.choice(CATEGORIES),
                "title": words.english_text(rng.randrange(5, 12)).capitalize(),
                "title_zh": words.chinese_text(rng.randrange(8, 20)),
                "authors": [rng.choice(words.names) for _ in range(rng.randrange(1, 8))],
                "affiliations": [rng.choice(("DeepMind", "MIT", "Tsinghua University",
                                             "Stanford", "Meta AI", "ETH Zurich"))],
                "url": f"https://arxiv.org/abs/{arxiv_id}",
            }
            if k < 11:
                paper["summary_zh"] = words.chinese_text(rng.randrange(150, 300))
                paper["abstract"] = words.english_text(rng.randrange(120, 200))
            papers.append(paper)
        featured, notable = papers[:11], papers[11:]
        issue = {"date": day.isoformat(), "title": f"AI 论文速递 · {day}",
                 "categories": {code: code for code in CATEGORIES},
                 "featured": featured, "notable": notable}
        (folder / f"{day}.yaml").write_text(
            yaml.dump(issue, allow_unicode=True, sort_keys=False, Dumper=yaml.CSafeDumper),
            "utf-8")
    return ids


def queries(rng: random.Random, ids: list[str], count: int) -> list[dict[str, str]]:
    words = Words(rng)
    made: list[dict[str, str]] = []
    for n in range(count):
        kind = KINDS[n % len(KINDS)]
        if kind == "word":
            made.append({"q": words.english_text(1)})
        elif kind == "phrase":
            made.append({"q": words.english_text(rng.randrange(2, 4))})
        elif kind == "author":
            made.append({"q": rng.choice(words.names).split()[-1]})
        elif kind == "zh2":
            made.append({"q": words.chinese_text(2)})
        elif kind == "zh4":
            made.append({"q": words.chinese_text(4)})
        elif kind == "filtered":
            made.append({"q": words.english_text(1), "category": rng.choice(CATEGORIES),
                         "year": str(rng.randrange(2016, 2024))})
        else:
            made.append({"q": f"https://arxiv.org/abs/{rng.choice(ids)}v2"})
    return made


def run(database_url: str, issues_dir: Path, ids: list[str], args: argparse.Namespace
        ) -> dict[str, float]:
    """Every figure on one database."""
    os.environ.update({"NEWSLETTER_DATABASE_URL": database_url,
                       "NEWSLETTER_ISSUES_DIR": str(issues_dir),
                       "NEWSLETTER_ARCHIVE_UNSENT": "true", "NEWSLETTER_SECRET_KEY": SECRET,
                       "NEWSLETTER_BASE_URL": "https://news.example.org"})
    from starlette.testclient import TestClient

    from newsletter import wiring
    from newsletter.settings import get_settings
    from newsletter.web.app import create_app
    from newsletter.web.archive import Archive

    upgrade(database_url)
    db = Database(make_engine(database_url))
    now = [CLOCK]
    figures: dict[str, float] = {}
    try:
        app = create_app(get_settings(), db=db, clock=lambda: now[0])
        # Without the app's start-up (a client outside ``with``): the index is not warmed
        # in the background, so that the first request below does the whole build.
        client = TestClient(app, follow_redirects=False)
        # Reading and validating the files (the archive's cache keeps them), then the
        # index, as the first request after a start does both.
        started, cpu, workers = time.perf_counter(), time.process_time(), children_cpu()
        Archive(wiring.site_config(get_settings()), lambda: frozenset(),
                lambda: now[0]).published()
        figures["read"] = time.perf_counter() - started
        started = time.perf_counter()
        assert client.get("/search", params={"q": "x"}).status_code == 200
        figures["index"] = time.perf_counter() - started
        figures["build"] = figures["read"] + figures["index"]
        figures["build cpu"] = time.process_time() - cpu
        figures["build workers cpu"] = children_cpu() - workers
        if args.build_only:
            return figures
        if db.dialect == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("ANALYZE"))
        with db.engine.connect() as conn:
            figures["papers"] = conn.execute(text("SELECT count(*) FROM papers")).scalar_one()
        rng = random.Random(5)
        edited = sorted(issues_dir.glob("*.yaml"))[len(ids) // 66]
        source = edited.read_text("utf-8")
        edited.write_text(source.replace("title: AI 论文速递", "title: AI 论文速递（修订）", 1)
                          .replace("  title: ", "  title: Revised ", 3), "utf-8")
        now[0] = CLOCK + dt.timedelta(seconds=10)
        started = time.perf_counter()
        assert client.get("/search", params={"q": "revised"}).status_code == 200
        figures["re-index"] = time.perf_counter() - started
        assert "Revised" in client.get("/search", params={"q": "revised"}).text
        asked = queries(rng, ids, args.requests)
        for params in asked[:20]:  # warm-up
            client.get("/search", params=params)
        timings = []
        hits = 0
        for params in asked:
            started = time.perf_counter()
            answer = client.get("/search", params=params)
            timings.append((time.perf_counter() - started) * 1000)
            assert answer.status_code in (200, 303), params
            hits += answer.status_code == 303 or "/papers/" in answer.text
        figures["search p50"], figures["search p95"] = (percentile(timings, 0.5),
                                                        percentile(timings, 0.95))
        figures["search hits"] = hits / len(asked)
        for n, kind in enumerate(KINDS):  # the queries are made in turn by kind
            mine = timings[n :: len(KINDS)]
            figures[f"search p95 {kind}"] = percentile(mine, 0.95)
        timings = []
        for arxiv_id in rng.sample(ids, args.requests):
            started = time.perf_counter()
            answer = client.get(f"/papers/{arxiv_id}")
            timings.append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200, arxiv_id
        figures["page p50"], figures["page p95"] = (percentile(timings, 0.5),
                                                    percentile(timings, 0.95))
    finally:
        db.close()
    return figures


def static_index_size(issues_dir: Path, papers: int) -> tuple[int, int]:
    """Bytes of the static site's search index for the first ``papers`` papers."""
    from newsletter.web.paper_pages import search_index

    loaded = []
    count = 0
    for path in sorted(issues_dir.glob("*.yaml")):
        issue = load_issue(path)
        loaded.append(issue)
        count += len(issue.papers)
        if count >= papers:
            break
    records = list(paper_records(loaded).values())[:papers]
    return len(records), len(search_index(records))


def build_summary(results: dict[str, dict[str, float]]) -> int:
    """Print the build figures alone (``--build-only``); 1 when one is over its target."""
    failed = False
    for name, figures in results.items():
        ok = figures["build"] <= TARGETS["build"]
        failed |= not ok
        print(f"{name}: build {figures['build']:.2f} s ({'ok' if ok else 'FAIL'}): reading "
              f"{figures['read']:.2f} s, indexing {figures['index']:.2f} s; CPU "
              f"{figures['build cpu']:.1f} s in this process, "
              f"{figures['build workers cpu']:.1f} s in the processes reading files")
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--issues", type=int, default=3000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--postgres-url", default=os.environ.get("NEWSLETTER_TEST_POSTGRES_URL"))
    parser.add_argument("--no-write", action="store_true", help="leave BENCHMARKS.md alone")
    parser.add_argument("--build-only", action="store_true",
                        help="time the build alone (prints it, writes nothing)")
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    write = (not args.no_write and args.issues == 3000 and not args.build_only
             and args.database == "both")
    rng = random.Random(20)
    results: dict[str, dict[str, float]] = {}
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-papers-") as tmp:
        folder = Path(tmp) / "issues"
        started = time.perf_counter()
        ids = make_issues(folder, args.issues, rng)
        print(f"{len(ids):,} papers in {args.issues:,} issue files "
              f"({time.perf_counter() - started:.1f} s to write)", flush=True)
        if not args.build_only:
            count, size = static_index_size(folder, 10_000)
            print(f"static search index: {size:,} bytes for {count:,} papers", flush=True)
        if args.database in ("sqlite", "both"):
            results["SQLite"] = run(f"sqlite:///{tmp}/papers.db", folder, ids, args)
            print("SQLite", results["SQLite"], flush=True)
        if args.postgres_url and args.database in ("postgresql", "both"):
            schema = f"bench_papers_{uuid.uuid4().hex[:10]}"
            admin = make_engine(args.postgres_url)
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            sep = "&" if "?" in args.postgres_url else "?"
            try:
                url = f"{args.postgres_url}{sep}options=-csearch_path%3D{schema}"
                if "SQLite" in results:
                    for path in folder.glob("*.yaml"):  # a fresh version of every file
                        os.utime(path)
                results["PostgreSQL"] = run(url, folder, ids, args)
                print("PostgreSQL", results["PostgreSQL"], flush=True)
            finally:
                with admin.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
    if args.build_only:
        return build_summary(results)
    rows = []
    failed = False
    for name, figures in results.items():
        checks = [
            ("search", figures["search p50"], figures["search p95"], "ms"),
            ("paper page", figures["page p50"], figures["page p95"], "ms"),
        ]
        for what, p50, p95, unit in checks:
            ok = p95 <= TARGETS[what]
            failed |= not ok
            rows.append(f"| {name} | {what} | {p50:.1f} {unit} | {p95:.1f} {unit} | "
                        f"{TARGETS[what]:.0f} {unit} | {'ok' if ok else 'FAIL'} |")
        for what in ("build", "re-index"):
            ok = figures[what] <= TARGETS[what]
            failed |= not ok
            label = (f"build ({figures['read']:.1f} s reading and validating the files, "
                     f"{figures['index']:.1f} s indexing; CPU time {figures['build cpu']:.1f} s "
                     f"in this process, {figures['build workers cpu']:.1f} s in the processes "
                     "reading files)" if what == "build" else what)
            rows.append(f"| {name} | {label} | {figures[what]:.2f} s | | "
                        f"{TARGETS[what]:.0f} s | {'ok' if ok else 'FAIL'} |")
    size_ok = size <= 2_000_000
    failed |= not size_ok
    table = "\n".join([
        "| database | what | p50 / once | p95 | target | |", "|---|---|---:|---:|---:|---|",
        *rows,
        f"| (static site) | search index, {count:,} papers | {size / 1e6:.2f} MB | | 2 MB | "
        f"{'ok' if size_ok else 'FAIL'} |",
    ])
    print(table)
    kinds = "Search p95 by kind of query: " + "; ".join(
        f"{name} " + ", ".join(f"{kind} {figures[f'search p95 {kind}']:.1f}" for kind in KINDS)
        for name, figures in results.items()) + " (ms)."
    print(kinds)
    papers = int(next(iter(results.values()))["papers"])
    hits = next(iter(results.values()))["search hits"]
    if write:
        begin, end = markers("papers.py")
        write_section("papers.py", "Paper index and search", intro=INTRO, block=(
            f"{begin}\n`bench/papers.py`, {dt.date.today().isoformat()}: {papers:,} papers in "
            f"{args.issues:,} generated issue files, {args.requests} timed requests of each "
            f"kind through the web app in-process ({hits:.0%} of the searches found "
            f"something), on {os.cpu_count()} cores ({cpu_model()}), load average (1 min) "
            f"{load_start:.1f} at the start and {os.getloadavg()[0]:.1f} at the end (other "
            f"work on the machine, when above 0).\n\n{table}\n\n{kinds}\n{end}"))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
