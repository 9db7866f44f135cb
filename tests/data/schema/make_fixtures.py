#!/usr/bin/env python3
"""Writes tests/data/schema/v{1,2,3,4}.db: databases as scalelab wrote them at
each earlier schema version, for tests/db/test_fixtures.cpp.

Each is made by the migration code of the commit that introduced that version
(db/schema.cpp's raw SQL steps, read from git), applied the way that commit's
Database::migrate did (schema_version table, one transaction per step, WAL),
then filled with the rows that version's code wrote: finished, failed, pending
and running runs with that version's spec fields, metrics with NaN and inf
stored as text, a stored fit, and (from version 3) a WSD branch and its
branch point. Run once from the repository root; the files are committed:
    python3 tests/data/schema/make_fixtures.py
"""
import json
import os
import re
import sqlite3
import subprocess

COMMITS = {1: "0c42207", 2: "de8eecd", 3: "32e63f0", 4: "30af01d"}  # first commit of each version
HERE = os.path.dirname(os.path.abspath(__file__))


def steps_at(commit):
    src = subprocess.check_output(["git", "show", f"{commit}:db/schema.cpp"], text=True)
    return re.findall(r'R"sql\((.*?)\)sql"', src, re.S)


def spec(version, model, tokens, seed=1, **extra):
    s = {"model": model, "tokens": tokens, "batch_tokens": 2048, "lr": 0.003,
         "min_lr_ratio": 0.1, "warmup": 10, "schedule": "cosine", "decay_fraction": 0.2,
         "weight_decay": 0.1, "beta1": 0.9, "beta2": 0.95, "grad_clip": 1.0, "seed": seed,
         "data": "builtin:kjv", "eval_every": 50, "eval_tokens": 8192}
    s.update(extra)
    return json.dumps(s, sort_keys=True, separators=(",", ":"))


def make(version):
    steps = steps_at(COMMITS[version])
    assert len(steps) == version, (version, len(steps))
    path = os.path.join(HERE, f"v{version}.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    db.execute("INSERT INTO schema_version VALUES (0)")
    for i, sql in enumerate(steps):
        db.execute("BEGIN")
        for statement in split_sql(sql):
            db.execute(statement)
        db.execute("UPDATE schema_version SET version = ?", (i + 1,))
        db.execute("COMMIT")
    t = "2026-11-24T10:00:00Z"
    db.execute("INSERT INTO sweeps VALUES ('fixture', ?)", (t,))
    runs = [
        # id, arch, model, params, tokens, flops, status, final_loss, error
        ("r_done", "softmax", "softmax:L2:d64:h4:f128:v256:T64", 141504, 2000000, 1.7e12,
         "done", 3.125, ""),
        ("r_failed", "lightning", "lightning:L2:d64:h4:f128:v256:T64", 141632, 2000000, 1.7e12,
         "failed", None, "trainer exited with signal 9"),
        ("r_pending", "hgrn2", "hgrn2:L2:d64:h4:f128:v256:T64", 150000, 4000000, 3.6e12,
         "pending", None, ""),
        ("r_running", "mamba2", "mamba2:L2:d64:f128:v256:T64", 160000, 4000000, 3.8e12,
         "running", None, ""),
    ]
    for rid, arch, model, params, tokens, flops, status, loss, err in runs:
        db.execute(
            "INSERT INTO runs (id, sweep, stage, name, arch, spec, params, nonembedding_params,"
            " tokens, flops, priority, status, attempts, worker, error, final_loss, env,"
            " created_at, started_at, finished_at, heartbeat_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (rid, "fixture", "", "row3", arch, spec(version, model, tokens), params,
             params - 256 * 64, tokens, flops, 0, status, 0 if status == "pending" else 1,
             "" if status == "pending" else "host:1234", err, loss,
             json.dumps({"code_version": f"0.1.0+{COMMITS[version]}"}), t,
             "" if status == "pending" else t, t if status in ("done", "failed") else "",
             "" if status == "pending" else t))
    metrics = [("r_done", 50, 102400, 4.5, 4.6, 0.003, 51000.0, 2.0),
               ("r_done", 100, 204800, 3.5, 3.125, 0.0003, 52000.0, 4.0),
               ("r_failed", 50, 102400, "nan", None, 0.003, "inf", 2.0)]
    for m in metrics:
        cols = "run_id, step, tokens, train_loss, val_loss, lr, tokens_per_s, elapsed_s"
        vals = list(m)
        if version >= 2:
            cols += ", grad_norm"
            vals.append(0.75)
        db.execute(f"INSERT INTO metrics ({cols}) VALUES ({','.join('?' * len(vals))})", vals)
    if version >= 2:
        db.execute("UPDATE runs SET micro_batch = 4, memory_estimate = 1.5e8,"
                   " perf = '{\"tokens_per_s\":52000}' WHERE id = 'r_done'")
    if version >= 3:
        # A WSD parent and its cooldown branch from step 80.
        parent = spec(version, "softmax:L2:d64:h4:f128:v256:T64", 2000000, seed=2,
                      schedule="wsd", branches=[1000000])
        db.execute(
            "INSERT INTO runs (id, sweep, name, arch, spec, params, nonembedding_params, tokens,"
            " flops, status, attempts, created_at) VALUES"
            " ('w_parent','fixture','wsd','softmax',?,141504,125120,2000000,1.7e12,'running',1,?)",
            (parent, t))
        child = spec(version, "softmax:L2:d64:h4:f128:v256:T64", 1000000, seed=2,
                     schedule="wsd", branch_of="w_parent", branch_step=80)
        db.execute(
            "INSERT INTO runs (id, sweep, name, arch, spec, params, nonembedding_params, tokens,"
            " flops, status, created_at) VALUES"
            " ('w_branch','fixture','wsd','softmax',?,141504,125120,1000000,8.5e11,'pending',?)",
            (child, t))
        db.execute("INSERT INTO branch_points VALUES ('w_parent', 80, 163840,"
                   " 'runs/w_parent/branch-80.pt', ?)", (t,))
    db.execute("INSERT INTO fits (method, arch, n_points, result, created_at) VALUES"
               " ('kaplan_c', 'softmax', 1, '{\"alpha\":0.05}', ?)", (t,))
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    for suffix in ("-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    print(path)


def split_sql(sql):
    # The steps hold no semicolons inside statements.
    return [s.strip() for s in sql.split(";") if s.strip()]


if __name__ == "__main__":
    for v in sorted(COMMITS):
        make(v)
