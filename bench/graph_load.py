#!/usr/bin/env python3
"""Baselines for bench/graph_write.sh: load the rows exported by crates/indexing/examples/graph_bench.rs into
Neo4j with the official Python driver (`pip install neo4j`), the same Cypher as our writer.

  graph_load.py unwind ROWS.json URI REPO_ID        UNWIND batches of 10,000 rows, one
                                                   auto-commit transaction per batch
  graph_load.py per-row ROWS.json URI REPO_ID N     one MERGE statement per row (auto-commit),
                                                   on the first N rows of every group, spread
                                                   proportionally; the rate is extrapolated

Prints one JSON line of figures. The password comes from NEO4J_PASSWORD.
"""
import json
import os
import sys
import time

from neo4j import GraphDatabase

BATCH = 10_000


def node_cypher(label):
    return (f"UNWIND $rows AS r MERGE (n:{label} {{repo_id: $repo, key: r.k}}) "
            "SET n = r.p, n.repo_id = $repo, n.key = r.k, n.file = r.f, n.run_id = $run")


def rel_cypher(rel, src, dst):
    return ("UNWIND $rows AS r "
            f"MATCH (a:{src} {{repo_id: $repo, key: r.s}}) "
            f"MATCH (b:{dst} {{repo_id: $repo, key: r.d}}) "
            f"MERGE (a)-[e:{rel}]->(b) "
            "SET e = r.p, e.repo_id = $repo, e.file = r.f, e.run_id = $run")


def groups(rows, repo):
    """(cypher, rows) per label, then per (type, source label, target label), as our writer."""
    out = []
    for label, nodes in rows["nodes"].items():
        out.append((node_cypher(label),
                    [{"k": n["key"], "f": n["file"], "p": n["props"] or {}} for n in nodes]))
    rels = {}
    for rel, items in rows["relationships"].items():
        for r in items:
            key = (rel, r["src"]["label"], r["dst"]["label"])
            src = repo if r["src"]["label"] == "Repository" else r["src"]["key"]
            rels.setdefault(key, []).append(
                {"s": src, "d": r["dst"]["key"], "f": r["file"], "p": r["props"] or {}})
    for (rel, src, dst), items in sorted(rels.items()):
        out.append((rel_cypher(rel, src, dst), items))
    return out


def main():
    mode, path, uri, repo = sys.argv[1:5]
    with open(path) as f:
        rows = json.load(f)
    driver = GraphDatabase.driver(uri, auth=("neo4j", os.environ.get("NEO4J_PASSWORD", "worker-host-test")))
    driver.verify_connectivity()
    work = groups(rows, repo)
    total = sum(len(items) for _, items in work)
    with driver.session() as session:
        session.run("MERGE (n:Repository {repo_id: $repo, key: $repo}) SET n.run_id = $run",
                    repo=repo, run="bench-run").consume()
        t0 = time.perf_counter()
        written = 0
        if mode == "unwind":
            for cypher, items in work:
                for i in range(0, len(items), BATCH):
                    batch = items[i:i + BATCH]
                    session.run(cypher, rows=batch, repo=repo, run="bench-run").consume()
                    written += len(batch)
        elif mode == "per-row":
            limit = int(sys.argv[5])
            for cypher, items in work:
                share = max(1, round(limit * len(items) / total))
                one = cypher.replace("UNWIND $rows AS r ", "WITH $row AS r ")
                for item in items[:share]:
                    session.run(one, row=item, repo=repo, run="bench-run").consume()
                    written += 1
        else:
            sys.exit(f"unknown mode {mode}")
        seconds = time.perf_counter() - t0
    driver.close()
    print(json.dumps({"stage": "python", "mode": mode, "elements": written, "total_elements": total,
                      "seconds": seconds, "elements_per_s": written / seconds,
                      "extrapolated_total_s": total / (written / seconds)}))


if __name__ == "__main__":
    main()
