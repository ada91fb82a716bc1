#!/usr/bin/env python3
"""report.html checked in a real browser (meson test 'report-browser').

Two local-mesh runs of a small suite pair (a policy matrix of 4 cells, one
failing on purpose, and a continuity case whose action is a command that
exits 3, an error) write A/ and then B/ with --baseline A/report.json (one
cell fixed, another broken), so B/report.html has all four parts: the
summary counts, the matrix grid, the timeline chart and the "Changes since
the baseline" section. B/report.html is then opened in headless Chromium
(Debian's `chromium`) twice, each time with a fresh profile:

1. a screenshot at 1280x3000 with a network log of everything Chromium did
   (--log-net-log, capture mode Everything) and its console on stderr;
2. --dump-dom, the DOM as the browser built it.

It asserts that the screenshot is a real PNG of the rendered page (size,
width and height from IHDR, and among its pixels the colours of the status
labels, of a passed and a failed grid cell and of the chart's bars, which
only the page with its CSS applied and the chart drawn can show); that the
page made no network request; and that the DOM has the page's CSP, the
summary counts of B/report.json, the grid with a cell per source and
destination and each tested cell's verdict as report.json has it, the
timeline SVG with one bar per second and one line per mark, and the diff
section with the one regressed and the one fixed cell.

"No network request" means: in the net log, no URL request other than the
page's own file:// URL (which Chromium loads outside its network stack and
so never logs) is attributed to the page (a request initiated by the page's
origin, or made in the page's file:// network partition: subresources,
navigations, preconnects and DNS prefetches), and the console reports no
load that the page's Content-Security-Policy refused, nor any failed load.
The CSP refuses every fetch in the renderer, before the network stack sees
it, so a refused fetch shows only on the console; without the CSP the same
fetch shows in the net log. data: URLs never reach the network; they are
caught only as CSP refusals (the page's CSP allows none), which fail this
test too. Requests Chromium makes for itself (network time, component
update, account checks: "initiator" "not an origin", outside the page's
partition) are not the page's and are only counted. So that they never
leave the machine, every host name resolves to nothing
(--host-resolver-rules), and the test also fails if the net log shows a DNS
query or a connection to an address outside the loopback.

Exit 0 on success, 1 on a failed assertion (saying which), 77 (skip) when
chromium is not installed. Needs MESHCHECK (the meshcheck executable);
MESHCHECK_BROWSER_SHOT=FILE keeps a copy of the screenshot. Everything lives in one temp
dir (also TMPDIR of the runs), removed at the end.
"""

import html.parser
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

SKIP = 77
NAME = "report-browser"

# The flags the acceptance names, then a fresh --user-data-dir per run.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# Every host name resolves to nothing, so Chromium's own background requests
# (which the flags above do not all stop) send no DNS query and open no
# connection; console messages (CSP refusals, failed loads) go to stderr.
ISOLATION_FLAGS = ["--host-resolver-rules=MAP * ~NOTFOUND", "--enable-logging=stderr"]
WINDOW = (1280, 3000)
CHROMIUM_TIMEOUT = 90   # seconds for one chromium invocation
RUN_TIMEOUT = 150       # seconds for one meshcheck run

# Console lines that mean the page tried to load something.
CONSOLE_LOAD = re.compile(r"Content Security Policy|Refused to|Failed to load resource|net::ERR_", re.I)
CONSOLE_LINE = re.compile(r":CONSOLE[:(]")

# Colours of html.c's style, looked for among the screenshot's pixels: what
# only a rendered page shows (the page's CSS applied, the grid and the chart
# drawn and not hidden in closed details).
COLOURS = {
    "PASS label green (.st.pass)": (0x1f, 0x7a, 0x3a),
    "FAIL label red (.st.fail)": (0xb4, 0x23, 0x18),
    "ERROR label purple (.st.error)": (0x6e, 0x2a, 0x8c),
    "grid pass cell (table.grid td.pass)": (0xd9, 0xf2, 0xe1),
    "grid FAIL cell (table.grid td.fail)": (0xf9, 0xd6, 0xd2),
    "timeline ok bar (.tl .ok)": (0x8f, 0xd3, 0xa0),
}


class Failure(Exception):
    """A failed assertion: the message says what was expected and what was seen."""


def log(msg):
    print(f"{NAME}: {msg}", flush=True)


# ---------------------------------------------------------------- processes

def _on_term(signum, _frame):
    # meson's timeout sends SIGTERM: unwind so that children and the temp dir go.
    raise KeyboardInterrupt(f"signal {signum}")


class Timeout(Failure):
    """A bounded run that did not finish in time (and was stopped); .stderr is what it wrote there."""

    def __init__(self, msg, stderr=""):
        super().__init__(msg)
        self.stderr = stderr


def run_bounded(argv, timeout, env, what, logs, grace):
    """Runs argv as the leader of a session of its own, stdout and stderr
    into the files logs + ".out" and ".err"; returns (rc, stdout, stderr).

    On timeout, or when this script is interrupted, the leader (chromium's
    browser process, or meshcheck) gets SIGTERM and `grace` seconds to stop
    what it started (meshcheck stops its nginx and fixtures, each in a
    process group of its own; chromium closes its net log); a timeout then
    raises Timeout. Whatever is left of the session then (also after a
    normal exit) is killed with SIGKILL, by PID, while the leader is not yet
    reaped, so that the session id cannot have been reused: only what this
    started."""
    out, err = Path(logs + ".out"), Path(logs + ".err")
    with open(out, "wb") as fo, open(err, "wb") as fe:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=fo, stderr=fe, env=env,
                             start_new_session=True)
    timed_out = False
    try:
        if not _wait_unreaped(p.pid, timeout):
            timed_out = True
            os.kill(p.pid, signal.SIGTERM)
            _wait_unreaped(p.pid, grace)
    except BaseException:
        os.kill(p.pid, signal.SIGTERM)
        _wait_unreaped(p.pid, grace)
        raise
    finally:
        left = _kill_session(p.pid)
        p.wait()
        if left:
            log(f"{what}: killed {left} process(es) it left behind")
    so, se = (f.read_text(encoding="utf-8", errors="replace") for f in (out, err))
    if timed_out:
        raise Timeout(f"{what} did not finish within {timeout} s; stopped (SIGTERM, {grace} s, then SIGKILL "
                      f"to what was left of its session)\nstderr (end):\n{se[-2000:]}", se)
    return p.returncode, so, se


def _session(sid):
    """The live (not zombie) processes of session sid, its leader aside."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == sid:
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            if int(fields[3]) == sid and fields[0] != b"Z":
                pids.append(int(d))
        except (OSError, IndexError, ValueError):
            pass
    return pids


def _kill_session(sid, settle=2.0):
    """Gives what is left of session sid `settle` seconds to exit, then
    SIGKILLs it by PID, and the leader if it still runs; returns how many
    processes were killed."""
    end = time.monotonic() + settle
    while _session(sid) and time.monotonic() < end:
        time.sleep(0.05)
    left = _session(sid)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        os.kill(sid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return len(left)


def _wait_unreaped(pid, seconds):
    """Waits up to seconds for child pid to exit, leaving it unreaped; True if it did."""
    end = time.monotonic() + seconds
    while True:
        if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is not None:
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(0.05)


# ---------------------------------------------------------------- suites

def matrix_suite(helloworld_expect, nip_expect):
    """A policy matrix on the local mesh: 2 sources x 4 destinations, 4 cells."""
    return {
        "name": "browser-matrix",
        "mesh": {"topology": "default"},
        "matrix": {
            "sources": {
                "outside": {"client_cert": False},
                "sleep@c1": {"from": "sleep@c1"},
            },
            "destinations": {
                "ingress c1, bare IP host": {"server": "ingress@c1:nip", "host": "10.20.30.40", "path": "/"},
                "ingress c1, nip.io host": {"server": "ingress@c1:nip", "host": "10.20.30.40.nip.io", "path": "/"},
                "helloworld v1, plaintext": {"server": "helloworld-v1@c1:plain", "path": "/hello"},
                "helloworld": {"url": "http://helloworld.sample:5000/hello"},
            },
            "cells": [
                {"source": "outside", "destination": "ingress c1, bare IP host", "expect": 403,
                 "body": "^RBAC: access denied$"},
                {"source": "outside", "destination": "ingress c1, nip.io host", "expect": nip_expect},
                {"source": "outside", "destination": "helloworld v1, plaintext", "expect": "reset"},
                {"source": "sleep@c1", "destination": "helloworld", "expect": helloworld_expect},
            ],
        },
    }


# The command runs a second and exits 3, which makes the case an error: an
# error's details are open, so the chart is drawn in the screenshot too (a
# passed case's are closed), and the summary gets an error to count.
CONTINUITY_SUITE = {
    "name": "browser-continuity",
    "mesh": {"topology": "default"},
    "cases": [{
        "name": "helloworld answers while a command runs",
        "check": "continuity",
        "input": {
            "paths": [{"from": "sleep@c1", "url": "http://helloworld.sample:5000/hello"}],
            "rate": 20, "before": "1s", "after": "1s",
            "action": {"command": ["sh", "-c", "sleep 1; exit 3"]},
        },
        "expect": {"max_failed": 0},
    }],
}

# Run A: helloworld's cell expects 503 (wrong: FAIL). Run B: that cell is
# right again (FIXED) and the nip.io cell expects 200 (wrong: REGRESSED).
REGRESSED = "outside -> ingress c1, nip.io host"
FIXED = "sleep@c1 -> helloworld"


def meshcheck_run(meshcheck, suites, out, env, baseline=None):
    argv = [meshcheck, "run"]
    for s in suites:
        argv += ["--suite", str(s)]
    argv += ["--out", str(out), "-q"]
    if baseline is not None:
        argv += ["--baseline", str(baseline)]
    t0 = time.monotonic()
    rc, so, se = run_bounded(argv, RUN_TIMEOUT, env, "meshcheck run --out " + out.name,
                             str(out) + "-meshcheck", grace=30)
    summary = [line for line in so.splitlines() if re.match(r"\d+ passed, ", line)]
    log(f"meshcheck run --out {out.name}: exit {rc} in {time.monotonic() - t0:.1f} s: {' '.join(summary)}")
    # A failing cell is planned, so 1 is the expected exit; 0 or 2 is not.
    if rc != 1 or not (out / "report.html").is_file() or not (out / "report.json").is_file():
        raise Failure(f"meshcheck run --out {out} exited {rc} (expected 1: one cell fails on purpose) "
                      f"or wrote no report\nstdout:\n{so}\nstderr:\n{se}")


# ---------------------------------------------------------------- chromium

def chromium_env(tmp):
    env = dict(os.environ)
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    # Chromium writes ~/.pki, caches and crash dumps: keep them in the temp dir.
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
               XDG_CACHE_HOME=str(home / ".cache"), TMPDIR=str(tmp / "runs"))
    return env


_runs = 0


def chromium(binary, tmp, extra, url, what):
    """One bounded chromium run with a fresh profile; returns (stdout, stderr, argv)."""
    global _runs
    _runs += 1
    argv = [binary] + CHROMIUM_FLAGS + [f"--user-data-dir={tmp / f'profile-{_runs}'}"] + ISOLATION_FLAGS + extra + [url]
    t0 = time.monotonic()
    rc, so, se = run_bounded(argv, CHROMIUM_TIMEOUT, chromium_env(tmp), what, str(tmp / f"chromium-{_runs}"),
                             grace=10)
    log(f"{what}: exit {rc} in {time.monotonic() - t0:.1f} s")
    if rc != 0:
        raise Failure(f"{what}: chromium exited {rc}\nargv: {argv}\nstderr (end):\n{se[-3000:]}")
    return so, se, argv


def screenshot_run(binary, tmp, page):
    """The screenshot run, with the net log; returns (png path, net log path, stderr).

    When it times out, the failure also says what the net log and console
    show (a page that navigates away can keep --screenshot waiting)."""
    shot, net = tmp / "shot.png", tmp / "net.json"
    extra = [f"--window-size={WINDOW[0]},{WINDOW[1]}", f"--screenshot={shot}",
             f"--log-net-log={net}", "--net-log-capture-mode=Everything"]
    try:
        _, se, argv = chromium(binary, tmp, extra, page.as_uri(), "chromium --screenshot")
    except Timeout as e:
        try:
            check_no_network(net, e.stderr, page.as_uri())
        except Failure as n:
            raise Timeout(f"{e}\n{n}")
        raise
    log("chromium flags: " + " ".join(argv[1:]))
    return shot, net, se


def dom_run(binary, tmp, page):
    so, _, _ = chromium(binary, tmp, [f"--window-size={WINDOW[0]},{WINDOW[1]}", "--dump-dom"],
                        page.as_uri(), "chromium --dump-dom")
    return so


# ---------------------------------------------------------------- screenshot

def check_png(path, min_bytes=20_000):
    """A real screenshot: PNG signature, size, IHDR width and height, and the
    colours of COLOURS among its pixels."""
    if not path.is_file():
        raise Failure(f"no screenshot at {path}")
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise Failure(f"{path}: not a PNG (signature {data[:8]!r})")
    if len(data) < min_bytes:
        raise Failure(f"{path}: only {len(data)} bytes (expected at least {min_bytes}): a blank page?")
    if data[12:16] != b"IHDR":
        raise Failure(f"{path}: first chunk is {data[12:16]!r}, not IHDR")
    width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", data[16:29])
    if (width, height) != WINDOW:
        raise Failure(f"{path}: {width}x{height} (IHDR), expected {WINDOW[0]}x{WINDOW[1]}")
    if depth != 8 or ctype not in (2, 6) or interlace != 0:
        log(f"screenshot is {depth}-bit, colour type {ctype}, interlace {interlace}: colour check skipped")
        return len(data), width, height, None
    colours = png_colours(data, width, height, ctype)
    missing = [n for n, c in COLOURS.items() if c not in colours]
    if missing:
        raise Failure(f"{path}: no pixel of {'; '.join(missing)} ({len(colours)} distinct colours): "
                      f"the page did not render as report.html should")
    return len(data), width, height, len(colours)


def png_colours(data, width, rows, ctype):
    """The set of RGB colours of an 8-bit, non-interlaced RGB(A) PNG."""
    idat, pos = bytearray(), 8
    while pos + 8 <= len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + n]
        elif kind == b"IEND":
            break
        pos += 12 + n
    bpp = 3 if ctype == 2 else 4
    stride = width * bpp
    raw = zlib.decompressobj().decompress(bytes(idat), rows * (stride + 1))
    prev, colours = bytearray(stride), set()
    for r in range(min(rows, len(raw) // (stride + 1))):
        f = raw[r * (stride + 1)]
        line = bytearray(raw[r * (stride + 1) + 1:(r + 1) * (stride + 1)])
        if f == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xff
        elif f == 2:
            line = bytearray((a + b) & 0xff for a, b in zip(line, prev))
        elif f == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xff
        elif f == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xff
        for i in range(0, stride, bpp):
            colours.add((line[i], line[i + 1], line[i + 2]))
        prev = line
    return colours


# ---------------------------------------------------------------- network

def _loopback(addr):
    """Whether "1.2.3.4:53" or "[::1]:443" is a loopback address."""
    host = addr[1:addr.find("]")] if addr.startswith("[") else addr.rsplit(":", 1)[0]
    return host.startswith("127.") or host == "::1"


def network_activity(netlog_path, page_url):
    """Reads a Chromium net log. Returns (page, own, offmachine): what the
    page fetched or prepared to fetch (anything other than its own URL), the
    URLs Chromium requested for itself, and DNS queries or connections to
    addresses outside the loopback (by anyone)."""
    try:
        text = Path(netlog_path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise Failure(f"chromium wrote no net log at {netlog_path}")
    try:
        log_ = json.loads(text)
    except ValueError as e:
        # A browser that was stopped leaves the log unfinished: one event a
        # line, each ending with ",". Keep the complete lines and close it.
        lines = text.splitlines()
        while lines and not lines[-1].endswith("},"):
            lines.pop()
        try:
            log_ = json.loads("\n".join(lines).rstrip(",") + "]}")
        except ValueError:
            raise Failure(f"the net log {netlog_path} is not JSON ({e})")
    names = {v: k for k, v in log_.get("constants", {}).get("logEventTypes", {}).items()}
    events = log_.get("events")
    if not names or not isinstance(events, list) or not events:
        raise Failure(f"the net log {netlog_path} has no event types or no events")
    page, own, off = [], [], []
    for e in events:
        kind = names.get(e.get("type"), str(e.get("type")))
        p = e.get("params") or {}
        partition = " ".join(str(p.get(k, "")) for k in
                             ("network_isolation_key", "network_anonymization_key", "site_for_cookies"))
        if kind == "URL_REQUEST_START_JOB" and "url" in p:
            if p["url"] == page_url:
                continue
            if p.get("initiator") != "not an origin" or "file://" in partition:
                page.append(f"{p.get('method', 'GET')} {p['url']} (initiator {p.get('initiator')})")
            else:
                own.append(p["url"])
        elif "file://" in partition:
            # The page's partition outside a URL request: a preconnect, a DNS prefetch.
            page.append(f"(in its partition) {kind} {p.get('host') or p.get('url') or p.get('group_id') or ''}".strip())
        if kind == "DNS_TRANSACTION":
            off.append(f"DNS query {p.get('hostname', '?')}")
        if kind in ("TCP_CONNECT_ATTEMPT", "UDP_BYTES_SENT") and "address" in p and not _loopback(p["address"]):
            off.append(f"{kind} {p['address']}")
        if kind == "TCP_CONNECT":
            off += [f"TCP_CONNECT {a}" for a in p.get("address_list", []) if not _loopback(a)]
    return sorted(set(page)), own, sorted(set(off))


def console_loads(stderr):
    """Console messages on stderr that report a refused or failed load."""
    return [line.strip() for line in stderr.splitlines() if CONSOLE_LINE.search(line) and CONSOLE_LOAD.search(line)]


def check_no_network(netlog, stderr, page_url):
    page, own, off = network_activity(netlog, page_url)
    refused = console_loads(stderr)
    problems = [f"the page requested {r}" for r in page]
    problems += [f"console: {r}" for r in refused]
    problems += [f"chromium reached beyond the loopback: {o}" for o in off]
    if problems:
        raise Failure("report.html is not self-contained, or chromium left the machine:\n  " + "\n  ".join(problems))
    return len(own)


# ---------------------------------------------------------------- DOM

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"}


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent, self.children = tag, dict(attrs), parent, []

    def classes(self):
        return (self.attrs.get("class") or "").split()

    def text(self):
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def elements(self):
        return [c for c in self.children if isinstance(c, Node)]

    def find_all(self, tag=None, cls=None, pred=None):
        out = []
        for c in self.elements():
            if (tag is None or c.tag == tag) and (cls is None or cls in c.classes()) and (pred is None or pred(c)):
                out.append(c)
            out += c.find_all(tag, cls, pred)
        return out


class TreeBuilder(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.cur = self.root

    def handle_starttag(self, tag, attrs):
        n = Node(tag, attrs, self.cur)
        self.cur.children.append(n)
        if tag not in VOID:
            self.cur = n

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, attrs, self.cur))

    def handle_endtag(self, tag):
        n = self.cur
        while n is not None and n.tag != tag:
            n = n.parent
        if n is not None and n.parent is not None:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.children.append(data)


def parse_dom(text):
    b = TreeBuilder()
    b.feed(text)
    b.close()
    return b.root


def one(nodes, what):
    if len(nodes) != 1:
        raise Failure(f"the DOM has {len(nodes)} {what}, expected exactly 1")
    return nodes[0]


def shown_summary(dom):
    """The counts line under the heading: <p class="counts"> (exactly that
    class; suites' and the diff's lines are "counts muted"), one span per
    count, a status label's class naming it (the first: "<strong>N</strong> cases")."""
    p = one(dom.find_all("p", pred=lambda n: n.classes() == ["counts"]), '<p class="counts"> summary lines')
    keys = {"pass": "passed", "flaky": "flaky", "fail": "failed", "skip": "skipped", "error": "errors"}
    shown = {}
    for span in p.elements():
        text = " ".join(span.text().split())
        label = [c for c in span.find_all("span", cls="st")]
        if label:
            kind = [k for k in label[0].classes() if k != "st"]
            key = keys.get(kind[0]) if kind else None
            m = re.search(r"\b(\d+)\b", text[len(label[0].text()):])
        else:
            key, m = ("total", re.match(r"(\d+) cases$", text))
        if key is None or m is None or key in shown:
            raise Failure(f"summary line: cannot read the count in {text!r}")
        shown[key] = int(m.group(1))
    return shown


def check_dom(dom_text, report):
    dom = parse_dom(dom_text)
    if not dom.find_all("body"):
        raise Failure("chromium --dump-dom printed no <body>:\n" + dom_text[:2000])

    # The Content-Security-Policy that stops any fetch the page could make.
    is_csp = lambda n: (n.attrs.get("http-equiv") or "").lower() == "content-security-policy"  # noqa: E731
    csp = one(dom.find_all("meta", pred=is_csp), "Content-Security-Policy meta tags")
    if "default-src 'none'" not in (csp.attrs.get("content") or ""):
        raise Failure(f"the CSP is {csp.attrs.get('content')!r}, expected default-src 'none'")

    # Summary counts against report.json.
    want = {k: report["summary"][k] for k in ("total", "passed", "failed", "skipped", "errors", "flaky")}
    shown = shown_summary(dom)
    if shown != want:
        raise Failure(f"summary counts shown {shown} differ from report.json's {want}")

    # The matrix grid: sources down, destinations across, a verdict per tested cell.
    suites = {s["name"]: s for s in report["suites"]}
    cases = {c["name"]: c for c in suites["browser-matrix"]["cases"]}
    grid = one(dom.find_all("table", cls="grid"), "table.grid")
    cols = [" ".join(th.text().split()) for th in grid.find_all("th", pred=lambda n: n.attrs.get("scope") == "col")]
    rows = grid.find_all("tr", pred=lambda n: any(t.attrs.get("scope") == "row" for t in n.find_all("th")))
    tds = grid.find_all("td")
    sources = {n.split(" -> ")[0] for n in cases}
    dests = {n.split(" -> ")[1] for n in cases}
    if set(cols) != dests or len(cols) != len(dests) or len(rows) != len(sources) or len(tds) != len(rows) * len(cols):
        raise Failure(f"grid: {len(rows)} rows x {len(cols)} columns, {len(tds)} cells; expected "
                      f"{len(sources)} x {len(dests)} = {len(sources) * len(dests)} cells (columns {sorted(dests)})")
    word = {"pass": "pass", "fail": "FAIL", "skip": "skip", "error": "error"}
    tested = 0
    for tr in rows:
        src = " ".join(one(tr.find_all("th"), "row headers in a grid row").text().split())
        for col, td in zip(cols, tr.find_all("td")):
            c = cases.get(f"{src} -> {col}")
            got = (td.classes()[:1] or [""])[0], td.text().strip()
            exp = ("none", "\u2014") if c is None else (c["status"], word[c["status"]])
            if got != exp:
                raise Failure(f"grid cell {src} -> {col}: shows {got}, report.json says {exp}")
            tested += c is not None
    if tested != len(cases):
        raise Failure(f"grid shows {tested} tested cells, the matrix has {len(cases)}")

    # The timeline: an inline SVG with one bar per second and the action's marks.
    tl = suites["browser-continuity"]["cases"][0].get("timeline")
    if not tl or not tl.get("points"):
        raise Failure("report.json: the continuity case has no timeline points")
    svg = one(dom.find_all("svg", cls="tl"), "svg.tl timeline charts")
    bars = svg.find_all("g", cls="bar")
    ok_rects = [b for b in bars if b.find_all("rect", cls="ok")]
    marks = svg.find_all("g", cls="mark")
    if len(bars) != len(tl["points"]) or len(ok_rects) != len(bars) or len(marks) != len(tl.get("marks", [])):
        raise Failure(f"timeline SVG: {len(bars)} bars ({len(ok_rects)} with ok requests), {len(marks)} marks; "
                      f"report.json has {len(tl['points'])} points, {len(tl.get('marks', []))} marks")

    # The diff against run A.
    diff = one(dom.find_all("section", cls="diff"), "section.diff")
    heading = " ".join(one(diff.find_all("h2"), "diff headings").text().split())
    counts_line = one(diff.find_all("p", cls="counts"), "diff counts lines")
    counts = [" ".join(sp.text().split()) for sp in counts_line.elements()]
    fail_rows = [" ".join(tr.text().split()) for tr in diff.find_all("tr", cls="fail")]
    if heading != "Changes since the baseline" or "1 regressed" not in counts or "1 fixed" not in counts:
        raise Failure(f"diff section: heading {heading!r}, counts {counts}; expected 1 regressed, 1 fixed")
    if not any(REGRESSED in r for r in fail_rows) or FIXED not in diff.text():
        raise Failure(f"diff section does not name {REGRESSED!r} as regressed and {FIXED!r}: rows {fail_rows}")
    return shown, len(tds), tested, len(bars), counts


# ---------------------------------------------------------------- main

def main():
    binary = shutil.which("chromium")
    if not binary:
        print(f"{NAME}: SKIP: chromium is not installed (Debian package `chromium`; ci/deps installs it)")
        return SKIP
    meshcheck = os.environ.get("MESHCHECK")
    if not meshcheck or not os.access(meshcheck, os.X_OK):
        print(f"{NAME}: MESHCHECK must name the meshcheck executable (got {meshcheck!r})")
        return 1
    signal.signal(signal.SIGTERM, _on_term)
    t_start = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="meshcheck-browser-"))
    try:
        (tmp / "runs").mkdir()
        env = dict(os.environ, TMPDIR=str(tmp / "runs"), NO_COLOR="1")
        m_a, m_b, cont = tmp / "matrix-a.json", tmp / "matrix-b.json", tmp / "continuity.json"
        m_a.write_text(json.dumps(matrix_suite(helloworld_expect=503, nip_expect=404), indent=1))
        m_b.write_text(json.dumps(matrix_suite(helloworld_expect=200, nip_expect=200), indent=1))
        cont.write_text(json.dumps(CONTINUITY_SUITE, indent=1))
        a, b = tmp / "A", tmp / "B"
        meshcheck_run(meshcheck, [m_a, cont], a, env)
        meshcheck_run(meshcheck, [m_b, cont], b, env, baseline=a / "report.json")
        page = (b / "report.html").resolve()
        report = json.loads((b / "report.json").read_text())

        shot, net, stderr = screenshot_run(binary, tmp, page)
        if os.environ.get("MESHCHECK_BROWSER_SHOT") and shot.is_file():
            shutil.copyfile(shot, os.environ["MESHCHECK_BROWSER_SHOT"])
        size, w, h, ncol = check_png(shot)
        log(f"screenshot: {size} bytes, {w}x{h}" + (f", {ncol} colours, among them the status labels', "
                                                      f"the grid's and the chart's" if ncol else ""))
        own = check_no_network(net, stderr, page.as_uri())
        log(f"network: no request by the page, no CSP refusal; chromium's own requests: {own} (resolved to nothing)")
        shown, cells, tested, bars, diff = check_dom(dom_run(binary, tmp, page), report)
        log(f"DOM: summary {shown} = report.json; grid {cells} cells ({tested} tested); "
            f"timeline {bars} bars; diff: {'; '.join(diff[1:3])}")
        log(f"OK in {time.monotonic() - t_start:.1f} s")
        return 0
    except Failure as e:
        print(f"{NAME}: FAIL: {e}", flush=True)
        return 1
    except KeyboardInterrupt as e:
        print(f"{NAME}: interrupted ({e})", flush=True)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
