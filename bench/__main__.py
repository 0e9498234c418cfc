"""The dwh benchmark.  `python -m bench --help`; `make bench` runs the full one.

For each dataset (the reference extracts when present, then `dwh sample` at each
scale), into fresh databases on one server, in one run: `dwh deploy` end to end
(time of each layer, rows per second, peak memory of the dwh process), the floor
(plain COPY into unlogged tables, one session), and the peers (`dbt seed`, pandas
`to_sql`).  Every ratio compares numbers measured within this one run: the floor and
dwh are measured in turn, --rounds times, and each ratio is the median of the rounds'.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
import uuid
from pathlib import Path

from psycopg2 import sql
from sqlalchemy.engine import URL

from bench import data, dwh_run, floor, peers, skeleton
from dwh import db, embedded
from dwh.settings import parse_url

RESULTS = data.ROOT / "bench" / "results"
TABLE_DOC = data.ROOT / "docs" / "performance.md"  # --update-readme writes its table there
MARK_BEGIN, MARK_END = "<!-- bench:begin -->", "<!-- bench:end -->"

TARGETS = {
    "bronze_vs_floor": 1.25,       # at scales 10 and 100
    "run_vs_floor": 4.0,           # at scale 100
    "linear_growth": 1.3,          # s per million sales lines, 100 vs 10
    "peak_rss_mib": 150.0,         # every scale
    "dbt_vs_dwh": 10.0,            # dbt seed / dwh bronze, at least
    "pandas_vs_dwh": 3.0,          # pandas to_sql / dwh bronze, at least
    "upgrade_empty_s": 2.0,
}


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scales", default="1,10,100", help="sample scales (default 1,10,100)")
    p.add_argument("--no-peers", action="store_true", help="skip dbt seed and pandas")
    p.add_argument("--no-reference", action="store_true", help="skip the reference extracts")
    p.add_argument("--database-url", help="server to use (any database on it); default "
                   "$DWH_BENCH_DATABASE_URL, else $DWH_TEST_DATABASE_URL, else an embedded server")
    p.add_argument("--jobs", type=int, default=2, help="dwh --jobs (default 2)")
    p.add_argument("--rounds", type=int, default=3,
                   help="measure the floor and dwh in turn this many times per dataset; each "
                        "time and ratio reported is the median of the rounds' (default 3)")
    p.add_argument("--peer-cap", type=float, default=20.0,
                   help="stop a peer once it has taken this many times dwh's bronze load (at "
                        "least 30 s); its ratio is then reported as more than that (default 20)")
    p.add_argument("--out", type=Path, default=RESULTS, help="where latest.json/.md go")
    p.add_argument("--update-readme", action="store_true",
                   help="put the table into docs/performance.md between the bench markers")
    return p.parse_args(argv)


class Server:
    """Fresh databases on one server, dropped when done."""

    ROLES = db.WAREHOUSE_ROLES  # created server-wide by the revisions

    def __init__(self, url: URL):
        self.url = url
        self.prefix = f"dwh_bench_{uuid.uuid4().hex[:6]}_"
        self.roles_before = set(self._query("SELECT rolname FROM pg_roles WHERE rolname = ANY (%s)",
                                            (list(self.ROLES),)))

    def _admin(self):
        return db.raw_connect(self.url.set(database="postgres"))

    def _query(self, statement: str, args=None) -> list:
        conn = self._admin()
        try:
            with conn.cursor() as cur:
                cur.execute(statement, args)
                return [r[0] for r in cur.fetchall()] if cur.description else []
        finally:
            conn.close()

    def close(self) -> None:
        """Drop the roles this benchmark's databases created, once nothing uses them."""
        conn = self._admin()
        try:
            db.drop_roles_if_unused(conn, [r for r in self.ROLES if r not in self.roles_before])
        finally:
            conn.close()

    def fresh(self, label: str) -> URL:
        name = self.prefix + label
        conn = self._admin()
        try:
            with conn.cursor() as cur:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        finally:
            conn.close()
        return self.url.set(database=name)

    def drop(self, url: URL) -> None:
        assert url.database.startswith(self.prefix)
        conn = self._admin()
        try:
            with conn.cursor() as cur:
                cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                            .format(sql.Identifier(url.database)))
        finally:
            conn.close()

    def version(self) -> str:
        conn = self._admin()
        try:
            with conn.cursor() as cur:
                cur.execute("SHOW server_version")
                return cur.fetchone()[0]
        finally:
            conn.close()

    def settings(self) -> dict[str, str]:
        """The server's settings that move the results most (see docs/performance.md)."""
        conn = self._admin()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT name, current_setting(name) FROM pg_settings "
                            "WHERE name = ANY (%s) ORDER BY name", (list(SERVER_SETTINGS),))
                found = dict(cur.fetchall())
            # a setting the server does not know (io_method before 18) is left out
            return {name: found[name] for name in SERVER_SETTINGS if name in found}
        finally:
            conn.close()


#: Reported with every result: WAL (wal_level minimal lets a table built by
#: CREATE TABLE AS skip it), autovacuum, data checksums (hint bits then write WAL
#: too) and io_method (I/O workers compete with the steps for the cores) change
#: what a run costs; the floor's unlogged COPY hardly depends on them.
SERVER_SETTINGS = ("wal_level", "autovacuum", "data_checksums", "io_method", "shared_buffers",
                   "max_wal_size")


def _server(args) -> tuple[Server, Path | None]:
    raw = (args.database_url or os.environ.get("DWH_BENCH_DATABASE_URL")
           or os.environ.get("DWH_TEST_DATABASE_URL"))
    if raw:
        return Server(parse_url(raw).set(database="postgres")), None
    home = data.CACHE / "home"
    home.mkdir(parents=True, exist_ok=True)
    home.chmod(0o755)
    return Server(embedded.ensure_started(home, database="postgres", create_database=False)), home


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": mem_gib,
            "os": platform.platform(), "python": platform.python_version()}


# Measured in every round; the report gives the median of each (and of each ratio).
ROUND_KEYS = ("floor_s", "durable_floor_s", "deploy_s", "run", "bronze", "silver", "gold",
              "checks", "publish", "skeleton_s")
ROUND_RATIOS = {"bronze_vs_floor": ("bronze", "floor_s"), "run_vs_floor": ("run", "floor_s"),
                "skeleton_vs_floor": ("skeleton_s", "floor_s")}


def measure_round(server: Server, name: str, source: Path, args, again: bool) -> dict:
    """The floor, the durable floor, dwh deploy and the durable skeleton, once each."""
    result: dict = {}
    for key, unlogged in (("floor_s", True), ("durable_floor_s", False)):
        url = server.fresh(f"{name}_floor")
        try:
            result[key] = floor.load(url, source, unlogged=unlogged)["seconds"]
        finally:
            server.drop(url)
    url = server.fresh(f"{name}_dwh")
    try:
        deploy = dwh_run.dwh(url.render_as_string(hide_password=False), "deploy",
                             "--source-dir", str(source.absolute()), "--jobs", str(args.jobs))
        result["deploy_s"] = deploy["seconds"]
        result["peak_rss_mib"] = deploy["peak_rss_mib"]
        result.update(dwh_run.layer_times(url))
        if again:  # the same deploy again: nothing to migrate
            again_run = dwh_run.dwh(url.render_as_string(hide_password=False), "deploy",
                                    "--source-dir", str(source.absolute()), "--jobs", str(args.jobs))
            result["deploy_again_s"] = again_run["seconds"]
        # the writes and reads of the run's plan, without its computing (bench/skeleton.py)
        result["skeleton_s"] = skeleton.run(url, source.absolute(), args.jobs)["seconds"]
    finally:
        server.drop(url)
    for ratio, (num, den) in ROUND_RATIOS.items():
        result[ratio] = _ratio(result.get(num), result.get(den))
    print(f"[{name}] floor {result['floor_s']:.2f} s, durable floor "
          f"{result['durable_floor_s']:.2f} s; dwh deploy {result['deploy_s']:.2f} s (run "
          f"{result['run']:.2f} s, {result['run_vs_floor']:.2f}x the floor), durable skeleton "
          f"{result['skeleton_s']:.2f} s", file=sys.stderr, flush=True)
    return result


def measure(server: Server, name: str, source: Path, args, first: bool) -> dict:
    rows = data.rows_of(source)
    result: dict = {"dataset": name, "rows": sum(rows.values()),
                    "sales_lines": rows["crm_sales_details"]}
    print(f"[{name}] {result['rows']:,} rows", file=sys.stderr, flush=True)
    rounds = [measure_round(server, name, source, args, first and i == 0)
              for i in range(max(1, args.rounds))]
    result["rounds"] = rounds
    for key in (*ROUND_KEYS, *ROUND_RATIOS):
        result[key] = _median([r.get(key) for r in rounds])
    result["peak_rss_mib"] = max(r["peak_rss_mib"] for r in rounds)
    for key in ("status", "deploy_again_s", *(f"{layer}_rows" for layer in ("bronze", "silver", "gold"))):
        result[key] = rounds[0].get(key)

    if not args.no_peers:
        # A peer far slower than the targets ask is stopped: its time is then only
        # known to exceed the cap, which is reported as a lower bound.
        cap = max(30.0, args.peer_cap * result["bronze"])
        for peer, fn in (("pandas", peers.pandas_to_sql), ("dbt", peers.dbt_seed)):
            url = server.fresh(f"{name}_{peer}")
            try:
                if peer == "dbt":
                    got = fn(url, source.absolute(), cap, args.jobs)
                else:
                    got = fn(url, source.absolute(), cap)
            finally:
                server.drop(url)
            result[f"{peer}_s"] = got["seconds"]
            result[f"{peer}_stopped_after_s"] = got.get("timeout_s")
            shown = f"{got['seconds']:.2f} s" if got["seconds"] else f"stopped after {cap:.0f} s"
            print(f"[{name}] {peer} {shown}", file=sys.stderr, flush=True)
    return result


def upgrade_times(server: Server, rounds: int) -> dict:
    """`dwh upgrade` into a fresh database, then again at head, ``rounds`` times: medians
    (a single process start is at the mercy of the machine's moment), and every round."""
    each = []
    for _ in range(max(1, rounds)):
        url = server.fresh("upgrade")
        try:
            text = url.render_as_string(hide_password=False)
            empty = dwh_run.dwh(text, "upgrade")["seconds"]
            again = dwh_run.dwh(text, "upgrade")["seconds"]
        finally:
            server.drop(url)
        each.append({"upgrade_empty_s": empty, "upgrade_at_head_s": again})
    return {key: _median([r[key] for r in each]) for key in each[0]} | {"rounds": each}


def _ratio(a, b):
    return a / b if a and b else None


def _rounds(values: list, fmt: str) -> str:
    """' (rounds: a, b, c)' for a target measured in more than one round, else ''."""
    values = [v for v in values if v is not None]
    return f" (rounds: {', '.join(fmt.format(v) for v in values)})" if len(values) > 1 else ""


def _median(values: list):
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def derive(results: list[dict]) -> None:
    for r in results:
        # bronze_vs_floor, run_vs_floor, skeleton_vs_floor: medians of each round's (measure)
        r["s_per_million_sales"] = _ratio(r.get("run"), r["sales_lines"] / 1e6)
        for peer in ("dbt", "pandas"):
            # a stopped peer: the ratio is a lower bound (shown with ">")
            r[f"{peer}_vs_dwh"] = _ratio(r.get(f"{peer}_s") or r.get(f"{peer}_stopped_after_s"),
                                          r.get("bronze"))
            r[f"{peer}_vs_dwh_lower_bound"] = bool(r.get(f"{peer}_stopped_after_s"))
        for layer in ("bronze", "silver", "gold"):
            r[f"{layer}_rows_per_s"] = _ratio(r.get(f"{layer}_rows"), r.get(layer))


def _f(value, fmt="{:.2f}") -> str:
    return "-" if value is None else fmt.format(value)


def _peer(r: dict, peer: str) -> str:
    if r.get(f"{peer}_vs_dwh") is None:
        return "-"
    return (">" if r.get(f"{peer}_vs_dwh_lower_bound") else "") + f"{r[f'{peer}_vs_dwh']:.1f}"


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = [
        f"Measured {report['when']} on {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, "
        f"PostgreSQL {report['server_version']} ({report['server']}: "
        + ", ".join(f"{k} {v}" for k, v in report.get("server_settings", {}).items())
        + f"), dwh --jobs {report['jobs']}. The times of dwh, the floors and the skeleton, "
        f"and each ratio to the floor, are medians of {report['rounds']} rounds (the floor and "
        "dwh measured in turn), as are the upgrade times; peers and deploy again are measured "
        "once.",
        "",
        "| data | rows | floor s | durable floor s | bronze s | silver s | gold s | checks s "
        "| total s | bronze ÷ floor | total ÷ floor | skeleton ÷ floor | dbt seed ÷ dwh "
        "| pandas ÷ dwh | s per M sales | peak MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["results"]:
        lines.append(
            f"| {r['dataset']} | {r['rows']:,} | {_f(r['floor_s'])} | {_f(r['durable_floor_s'])} "
            f"| {_f(r.get('bronze'))} | {_f(r.get('silver'))} "
            f"| {_f(r.get('gold'))} | {_f(r.get('checks'))} | {_f(r.get('run'))} "
            f"| {_f(r['bronze_vs_floor'])} | {_f(r['run_vs_floor'])} "
            f"| {_f(r.get('skeleton_vs_floor'))} "
            f"| {_peer(r, 'dbt')} | {_peer(r, 'pandas')} "
            f"| {_f(r['s_per_million_sales'], '{:.1f}')} | {_f(r['peak_rss_mib'], '{:.0f}')} |")
    u = report["upgrade"]
    lines += [
        "",
        f"`dwh upgrade` on an empty database: {u['upgrade_empty_s']:.2f} s; at head (nothing to "
        f"migrate): {u['upgrade_at_head_s']:.2f} s; `dwh deploy` with nothing to migrate "
        f"({report['results'][0]['dataset']}): {_f(report['results'][0].get('deploy_again_s'))} s. "
        "Floor: plain COPY of the same files into unlogged tables, one session; durable floor: "
        "the same into ordinary (WAL-logged) tables; skeleton: the writes and reads of dwh's "
        "plan without its computing, on the same connections (bench/skeleton.py), an "
        "estimate of the least a run of this plan takes here. Peers: "
        "`dbt seed` (dbt-postgres) and pandas `read_csv` + `to_sql(method=\"multi\")`, "
        "compared with dwh's bronze load of the same files. Times of whole process runs "
        "(deploy, upgrade) include Python start-up. A peer is stopped once it has taken "
        f"{report['peer_cap']:g}× dwh's bronze time; its ratio is then shown as `>cap`.",
    ]
    if report.get("targets"):
        lines += ["", "| target | wanted | measured | met |", "|---|---|---|---|"]
        for t in report["targets"]:
            lines.append(f"| {t['what']} | {t['wanted']} | {t['measured']} | "
                         f"{'yes' if t['met'] else 'no'} |")
    return "\n".join(lines) + "\n"


def targets(report: dict) -> list[dict]:
    by = {r["dataset"]: r for r in report["results"]}
    out = []

    def add(what, wanted, measured, met):
        out.append({"what": what, "wanted": wanted, "measured": measured, "met": met})

    for scale in ("scale-10", "scale-100"):
        if scale in by and by[scale]["bronze_vs_floor"]:
            v = by[scale]["bronze_vs_floor"]
            add(f"bronze vs floor, {scale}", "≤ 1.25×", f"{v:.2f}×", v <= TARGETS["bronze_vs_floor"])
    if "scale-100" in by and by["scale-100"]["run_vs_floor"]:
        v = by["scale-100"]["run_vs_floor"]
        floor_of_run = by["scale-100"].get("skeleton_vs_floor")
        each = [r["run_vs_floor"] for r in by["scale-100"].get("rounds", [])]
        add("whole run vs floor, scale-100", "≤ 4×", f"{v:.2f}×" + _rounds(each, "{:.2f}×") + (
            f"; its durable skeleton alone: {floor_of_run:.2f}×" if floor_of_run else ""),
            v <= TARGETS["run_vs_floor"])
    if "scale-10" in by and "scale-100" in by:
        v = by["scale-100"]["s_per_million_sales"] / by["scale-10"]["s_per_million_sales"]
        add("s per million sales lines, 100 vs 10", "≤ 1.3×", f"{v:.2f}×", v <= TARGETS["linear_growth"])
    peak = max(r["peak_rss_mib"] for r in report["results"])
    add("peak memory of dwh, every scale", "< 150 MiB", f"{peak:.0f} MiB", peak < TARGETS["peak_rss_mib"])
    for peer, key, wanted in (("dbt seed", "dbt_vs_dwh", 10.0), ("pandas to_sql", "pandas_vs_dwh", 3.0)):
        ratios = [r[key] for r in report["results"] if r.get(key)]
        if ratios:
            add(f"{peer} ÷ dwh bronze, every dataset", f"≥ {wanted:g}×",
                f"{min(ratios):.1f}× (smallest; a stopped peer counts at its cap)",
                min(ratios) >= wanted)
    u = report["upgrade"]["upgrade_empty_s"]
    each = [r["upgrade_empty_s"] for r in report["upgrade"].get("rounds", [])]
    add("dwh upgrade head, empty database", "< 2 s", f"{u:.2f} s" + _rounds(each, "{:.2f} s"),
        u < TARGETS["upgrade_empty_s"])
    return out


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    server, home = _server(args)
    datasets: list[tuple[str, Path]] = []
    if not args.no_reference and data.reference_dir() is not None:
        datasets.append(("reference", data.reference_dir()))
    for scale in [int(s) for s in args.scales.split(",") if s.strip()]:
        print(f"preparing the scale-{scale} sample (cached)...", file=sys.stderr, flush=True)
        datasets.append((f"scale-{scale}", data.sample_dir(scale)))
    started = time.perf_counter()
    try:
        report = {
            "when": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine(), "server_version": server.version(),
            "server_settings": server.settings(),
            "server": "embedded" if home else "local server", "jobs": args.jobs,
            "rounds": max(1, args.rounds),
            "peer_cap": args.peer_cap,
            "results": [measure(server, name, path, args, i == 0)
                        for i, (name, path) in enumerate(datasets)],
            "upgrade": upgrade_times(server, args.rounds),
        }
    finally:
        server.close()
        if home is not None:
            embedded.stop(home, force=True)
    derive(report["results"])
    report["targets"] = targets(report)
    report["seconds"] = time.perf_counter() - started
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    text = markdown(report)
    (args.out / "latest.md").write_text(text)
    print(text)
    if args.update_readme:
        readme = TABLE_DOC.read_text()
        if MARK_BEGIN in readme and MARK_END in readme:
            head, rest = readme.split(MARK_BEGIN, 1)
            TABLE_DOC.write_text(head + MARK_BEGIN + "\n" + text + MARK_END + rest.split(MARK_END, 1)[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
