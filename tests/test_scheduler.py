"""db.run_graph: steps start once what they need is done, several at once; a failure
stops what depends on it and is raised once everything running has finished."""

from __future__ import annotations

import threading
import time

import pytest

from dwh import db
from dwh.errors import DwhError


class Log:
    def __init__(self):
        self.lock = threading.Lock()
        self.events: list[tuple[str, str]] = []
        self.running = 0
        self.most = 0

    def task(self, name, provides=(), needs=(), seconds=0.05, fail=False, after_failure=False,
             cost=1.0, priority=0):
        def run():
            with self.lock:
                self.events.append(("start", name))
                self.running += 1
                self.most = max(self.most, self.running)
            time.sleep(seconds)
            with self.lock:
                self.running -= 1
                self.events.append(("end", name))
            if fail:
                raise DwhError(f"{name} failed")
        return db.Task(name, run, provides=frozenset(provides), needs=frozenset(needs),
                       after_failure=after_failure, cost=cost, priority=priority)

    def at(self, kind, name):
        return self.events.index((kind, name))


def test_a_step_starts_only_after_what_it_needs():
    log = Log()
    tasks = [log.task("fact", {"gold.fact"}, {"silver.sales", "gold.dim"}),
             log.task("dim", {"gold.dim"}, {"silver.cust"}, seconds=0.1),
             log.task("sales", {"silver.sales"}, {"bronze"}),
             log.task("load sales", {"bronze.sales"}, seconds=0.1),
             log.task("load cust", {"bronze.cust"}),
             log.task("cust", {"silver.cust"}, {"bronze.cust"}),
             log.task("check", set(), {"gold"})]
    db.run_graph(tasks, jobs=2)
    assert len(log.events) == 2 * len(tasks)
    assert log.at("end", "dim") < log.at("start", "fact")
    assert log.at("end", "sales") < log.at("start", "fact")
    # a layer as a need waits for every table of it
    assert log.at("end", "load sales") < log.at("start", "sales")
    assert log.at("end", "load cust") < log.at("start", "sales")
    assert log.at("end", "fact") < log.at("start", "check")
    assert log.at("end", "dim") < log.at("start", "check")
    assert log.most == 2


def test_independent_steps_run_at_once_up_to_jobs():
    log = Log()
    tasks = [log.task(f"t{n}", {f"silver.t{n}"}, seconds=0.2) for n in range(6)]
    started = time.monotonic()
    db.run_graph(tasks, jobs=3)
    assert log.most == 3
    assert time.monotonic() - started < 0.2 * 6 / 2  # not one after the other


def test_a_need_nothing_provides_is_met_and_a_layer_covers_its_tables():
    log = Log()
    tasks = [log.task("bronze", {"bronze"}, seconds=0.1),
             log.task("silver", {"silver.sales"}, {"bronze.sales", "gold.absent"})]
    db.run_graph(tasks, jobs=2)
    assert log.at("end", "bronze") < log.at("start", "silver")


def test_a_failure_stops_what_needs_it_and_the_first_failure_is_raised():
    log = Log()
    tasks = [log.task("load a", {"bronze.a"}, fail=True, after_failure=True),
             log.task("load b", {"bronze.b"}, seconds=0.2, fail=True, after_failure=True),
             log.task("load c", {"bronze.c"}, after_failure=True),
             log.task("silver a", {"silver.a"}, {"bronze.a"}),
             log.task("other", {"silver.z"}, seconds=0.3)]
    with pytest.raises(DwhError, match="load a failed"):
        db.run_graph(tasks, jobs=2)
    names = {name for kind, name in log.events if kind == "start"}
    assert "silver a" not in names          # what needs the failed load never starts
    assert {"load a", "load b", "load c"} <= names  # every load is still tried
    assert all(("end", n) in log.events for n in names)  # nothing left running


def test_steps_that_can_never_start_are_an_error():
    log = Log()
    tasks = [log.task("a", {"gold.a"}, {"gold.b"}), log.task("b", {"gold.b"}, {"gold.a"})]
    with pytest.raises(ValueError, match="can never start"):
        db.run_graph(tasks, jobs=2)


def test_critical_paths_add_the_costliest_chain_after_each_task():
    log = Log()
    load = log.task("load", {"bronze.sales"}, cost=4)
    build = log.task("build", {"silver.sales"}, {"bronze"}, cost=10)
    other = log.task("other", {"silver.cust"}, {"bronze.cust"}, cost=3)
    fact = log.task("fact", {"gold.fact"}, {"silver.sales", "silver.cust"}, cost=6)
    check = log.task("check", set(), {"silver"}, cost=1)
    paths = db.critical_paths([load, build, other, fact, check])
    assert [paths[id(t)] for t in (load, build, other, fact, check)] == [20, 16, 9, 6, 1]


def test_the_ready_task_heading_the_costliest_chain_starts_first():
    log = Log()
    tasks = [log.task("check", set(), {"silver.cust"}, cost=2),
             log.task("dim", {"gold.dim"}, {"silver.cust"}, cost=1),
             log.task("fact", {"gold.fact"}, {"gold.dim"}, cost=5),
             log.task("cust", {"silver.cust"}),
             log.task("erp", {"silver.erp"}, cost=1)]
    db.run_graph(tasks, jobs=1)
    order = [name for kind, name in log.events if kind == "start"]
    # cust (1 + dim 1 + fact 5) before erp (1); then dim (6) before the check (2),
    # though the check comes first in the list
    assert order == ["cust", "dim", "fact", "check", "erp"]


def test_equal_chains_start_in_the_order_of_the_list():
    log = Log()
    tasks = [log.task(name, {f"silver.{name}"}) for name in ("b", "a", "c")]
    db.run_graph(tasks, jobs=1)
    assert [name for kind, name in log.events if kind == "start"] == ["b", "a", "c"]


def test_a_higher_priority_starts_first_whatever_its_chain():
    log = Log()
    tasks = [log.task("load sales", {"bronze.sales"}, cost=10, priority=1),
             log.task("cust", {"silver.cust"}, {"bronze.cust"}, cost=1),
             log.task("fact", {"gold.fact"}, {"silver.cust", "bronze.sales"}, cost=50),
             log.task("load cust", {"bronze.cust"}, cost=1, priority=1),
             log.task("load erp", {"bronze.erp"}, cost=1, priority=1)]
    db.run_graph(tasks, jobs=1)
    order = [name for kind, name in log.events if kind == "start"]
    # the loads first (sales heads the longest chain), though cust is ready before erp loads
    assert order == ["load sales", "load cust", "load erp", "cust", "fact"]
