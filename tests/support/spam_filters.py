"""The two spam filters most receivers run, on loopback, judging messages by content alone.

* SpamAssassin (Debian's ``spamassassin``/``spamd``/``spamc``): ``spamd --local`` runs the
  local rules only (no DNS blocklists, no Razor/Pyzor); ``spamc -R`` asks it for a report.
  One daemon parses the rules once, so a hundred messages take a minute, not ten.
* rspamd (Debian's ``rspamd``): a normal worker with a configuration written here that
  loads rspamd's own rules (``rules/*.lua``, the regexp rules, scores and composites) and
  only the modules that need no network; RBLs, DNS, SPF/DKIM/DMARC, fuzzy hashes, neural
  networks, Redis-backed modules and every map fetched over HTTP stay out, and the DNS
  resolver points at a closed loopback port. What is left is rspamd's content score.
  Messages go to its HTTP endpoint ``/checkv2``. rspamd compiles its regular expressions
  and the public-suffix list with Hyperscan on start (a minute on a busy machine); the
  compiled databases are kept in ``.cache/rspamd``, so later starts take seconds.

Both print the rules that fired for every message, so a failing run says what to fix.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from support.env import ROOT
from support.servers import free_port

RSPAMD_CACHE = ROOT / ".cache" / "rspamd"
START_SECONDS = 600  # rspamd's first start compiles Hyperscan databases
# "  0.7 HTML_FONT_LOW_CONTRAST BODY: HTML font color similar ..."
_SA_RULE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s+([A-Z0-9_]+)\s+(.*)$")

# Only the modules that judge the message itself. Lua plugins load only when configured,
# so every other one (rbl, spf, dkim, dmarc, fuzzy_check, neural, multimap, phishing, asn,
# mx_check, greylist, ratelimit, reputation, replies, whitelist, url_redirector, ...) is off.
RSPAMD_CONFIG = """
options {{
  pidfile = "{work}/rspamd.pid";
  filters = "chartable,regexp";
  url_tld = "${{SHAREDIR}}/effective_tld_names.dat";
  hs_cache_dir = "{cache}";
  dynamic_conf = "{work}/dynamic.conf";
  history_file = "{work}/history";
  stats_file = "{work}/stats.ucl";
  control_socket = "{work}/rspamd.sock mode=0600";
  local_addrs = [];
  explicit_modules = [];
  dns {{ nameserver = ["127.0.0.1:{dead_port}"]; timeout = 0.1s; retransmits = 1; }}
  task_timeout = 60s;
  map_watch_interval = 24h;
}}
logging {{ type = "file"; filename = "{work}/rspamd.log"; level = "info"; }}
worker "normal" {{ bind_socket = "127.0.0.1:{port}"; count = 1; }}
lua = "$RULESDIR/rspamd.lua"
.include "$CONFDIR/metrics.conf"
.include "$CONFDIR/actions.conf"
.include "$CONFDIR/groups.conf"
.include "$CONFDIR/composites.conf"
modules {{ path = "${{PLUGINSDIR}}"; }}
chartable {{ }}
regexp {{ }}
once_received {{ }}
forged_recipients {{ }}
maillist {{ }}
"""
# Modules that must not have run: they would have needed the network.
NETWORK_MODULES = ("RBL", "SURBL", "DBL", "SPF", "DKIM", "DMARC", "FUZZY", "NEURAL", "ASN",
                   "RECEIVED_SPAMHAUS", "DWL", "MX_", "GREYLIST", "RATELIMIT", "PHISH")


@dataclass(frozen=True)
class Report:
    """One filter's verdict: the total and each rule that fired (points, name, why)."""

    filter: str
    score: float
    rules: list[tuple[float, str, str]]

    def fired(self) -> str:
        return "\n".join(f"{points:6.2f} {name} {text}" for points, name, text in self.rules)

    def names(self) -> set[str]:
        return {name for _, name, _ in self.rules}

    def __str__(self) -> str:
        return f"{self.filter}: {self.score:.2f} points\n{self.fired()}"


class SpamAssassin:
    """``spamd --local`` on a loopback port; :meth:`score` runs ``spamc -R``."""

    def __init__(self, spamc: str, port: int) -> None:
        self.spamc = spamc
        self.port = port

    def score(self, message: bytes) -> Report:
        done = subprocess.run(
            [self.spamc, "-d", "127.0.0.1", "-p", str(self.port), "-R", "-s", "4000000"],
            input=message, capture_output=True, check=False, timeout=300,
        )
        out = done.stdout.decode("utf-8", "replace")
        details = out.rpartition("Content analysis details:")[2]
        total = re.search(r"\((-?\d+(?:\.\d+)?) points", details)
        assert total, f"spamc gave no report (exit {done.returncode}):\n{out[-2000:]}"
        rules = [(float(m[1]), m[2], m[3].strip()) for line in details.splitlines()
                 if (m := _SA_RULE.match(line))]
        report = Report("SpamAssassin", float(total[1]), rules)
        print(report)
        return report


class Rspamd:
    """rspamd's normal worker on a loopback port; :meth:`score` posts to ``/checkv2``."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"

    def score(self, message: bytes) -> Report:
        request = urllib.request.Request(f"{self.url}/checkv2", data=message, method="POST")
        with urllib.request.urlopen(request, timeout=300) as response:
            result = json.load(response)
        symbols = sorted(result["symbols"].values(), key=lambda s: (-abs(s["score"]), s["name"]))
        rules = [
            (float(s["score"]), s["name"],
             " ".join([s.get("description", ""), *map(str, s.get("options", []))]).strip())
            for s in symbols
        ]
        report = Report("rspamd", float(result["score"]), rules)
        print(report)
        return report


def _wait(ready: Callable[[], bool], process: subprocess.Popen[bytes], logs: list[Path],
          what: str) -> None:
    """Wait until ``ready()``; a daemon that exits or never answers raises, with its logs."""

    def tail() -> str:
        return "\n".join(p.read_text("utf-8", "replace")[-3000:] for p in logs if p.exists())

    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{tail()}")
        if ready():
            return
        time.sleep(0.25)
    raise RuntimeError(f"{what} did not start in {START_SECONDS} s:\n{tail()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the daemon we started (by its own pid) and wait for it."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


@contextmanager
def spamassassin(work: Path) -> Iterator[SpamAssassin]:
    """A running ``spamd --local`` (network tests off) until the block ends."""
    spamd, spamc = shutil.which("spamd") or "/usr/sbin/spamd", shutil.which("spamc")
    if not Path(spamd).is_file() or spamc is None:
        raise FileNotFoundError("spamd and spamc (apt-get install spamassassin spamc)")
    port = free_port()
    log = work / "spamd.log"
    command = [spamd, "--local", f"--listen=127.0.0.1:{port}", "--max-children=2",
               "--min-children=2", f"--pidfile={work / 'spamd.pid'}", "--syslog=stderr",
               "--nouser-config"]
    if os.geteuid() == 0:
        command.append("--username=nobody")
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=out, cwd=work)
    try:
        def ready() -> bool:
            return subprocess.run([spamc, "-d", "127.0.0.1", "-p", str(port), "-K"],
                                  capture_output=True, check=False).returncode == 0
        _wait(ready, process, [log], "spamd")
        yield SpamAssassin(spamc, port)
    finally:
        _stop(process)


@contextmanager
def rspamd(work: Path) -> Iterator[Rspamd]:
    """A running rspamd with the content-only configuration above until the block ends."""
    binary = shutil.which("rspamd")
    if binary is None:
        raise FileNotFoundError("rspamd (apt-get install rspamd)")
    RSPAMD_CACHE.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = work / "rspamd.conf"
    config.write_text(RSPAMD_CONFIG.format(
        work=work, cache=RSPAMD_CACHE, port=port, dead_port=free_port()), "utf-8")
    log = work / "rspamd.log"
    command = [binary, "-f", "-c", str(config), "--var", f"DBDIR={work}",
               "--var", f"RUNDIR={work}", "--var", f"LOCAL_CONFDIR={work / 'local'}"]
    if os.geteuid() == 0:
        command += ["-u", "root", "-g", "root"]
    with open(work / "rspamd.out", "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=out, cwd=work)
    try:
        def ready() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as r:
                    return bool(r.status == 200)
            except (urllib.error.URLError, OSError):
                return False
        _wait(ready, process, [log, work / "rspamd.out"], "rspamd")
        yield Rspamd(port)
    finally:
        _stop(process)
