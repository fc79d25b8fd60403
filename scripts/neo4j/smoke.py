#!/usr/bin/env python3
"""End-to-end check of a Neo4j started by scripts/neo4j.sh, with the official Python driver.

    pip install neo4j            # PyPI; 6.x was used to verify (docs/neo4j.md)
    scripts/neo4j.sh start
    python3 scripts/neo4j/smoke.py [bolt://127.0.0.1:7687]
    scripts/neo4j.sh stop

Auth: user neo4j, password from NEO4J_PASSWORD (default worker-host-test); set NEO4J_AUTH=none
for a server started with --no-auth. Prints "N passed, N failed" and exits non-zero on failure.
"""
import os
import sys
import time

from neo4j import GraphDatabase

URI = sys.argv[1] if len(sys.argv) > 1 else "bolt://127.0.0.1:7687"
if os.environ.get("NEO4J_AUTH") == "none":
    AUTH = None
else:
    AUTH = ("neo4j", os.environ.get("NEO4J_PASSWORD") or "worker-host-test")

passed = failed = 0


def check(name, fn):
    global passed, failed
    t0 = time.monotonic()
    try:
        detail = fn()
        passed += 1
        print(f"ok   {name} ({(time.monotonic() - t0) * 1000:.0f} ms){': ' + str(detail) if detail else ''}")
    except Exception as e:  # noqa: BLE001 - report every failure
        failed += 1
        print(f"FAIL {name}: {type(e).__name__}: {e}")


with GraphDatabase.driver(URI, auth=AUTH) as driver:
    check("verify_connectivity", driver.verify_connectivity)

    def version():
        recs, _, _ = driver.execute_query(
            "CALL dbms.components() YIELD name, versions, edition RETURN versions[0] AS v, edition AS e")
        return f"{recs[0]['v']} {recs[0]['e']}"

    check("dbms.components", version)

    def return_one():
        recs, _, _ = driver.execute_query("RETURN 1 AS one")
        assert recs[0]["one"] == 1
        return None

    check("RETURN 1", return_one)

    def constraint():
        driver.execute_query(
            "CREATE CONSTRAINT smoke_file_path IF NOT EXISTS FOR (f:SmokeFile) REQUIRE f.path IS UNIQUE")
        # IF NOT EXISTS: a second run is a no-op, not an error.
        driver.execute_query(
            "CREATE CONSTRAINT smoke_file_path IF NOT EXISTS FOR (f:SmokeFile) REQUIRE f.path IS UNIQUE")
        recs, _, _ = driver.execute_query(
            "SHOW CONSTRAINTS YIELD name, type WHERE name = 'smoke_file_path' RETURN type")
        assert recs and recs[0]["type"] == "UNIQUENESS", recs
        return recs[0]["type"]

    check("CREATE CONSTRAINT ... IF NOT EXISTS (uniqueness)", constraint)

    def create_and_read():
        driver.execute_query("MERGE (f:SmokeFile {path: $p}) SET f.lines = $n", p="src/lib.rs", n=42)
        recs, _, _ = driver.execute_query("MATCH (f:SmokeFile {path: $p}) RETURN f.lines AS n", p="src/lib.rs")
        assert [r["n"] for r in recs] == [42], recs
        return None

    check("create node + read back", create_and_read)

    def unique_violation():
        try:
            driver.execute_query("CREATE (:SmokeFile {path: 'src/lib.rs'})")
        except Exception as e:  # noqa: BLE001
            code = getattr(e, "code", "")
            assert "ConstraintValidationFailed" in code, code
            return code
        raise AssertionError("duplicate path was accepted")

    check("uniqueness enforced", unique_violation)

    def in_transactions():
        # CALL {...} IN TRANSACTIONS must run in an auto-commit (implicit) transaction:
        # session.run, not execute_query / managed transactions.
        with driver.session() as s:
            s.run("""
                UNWIND range(1, 2500) AS i
                CALL (i) { CREATE (:SmokeBatch {i: i}) } IN TRANSACTIONS OF 1000 ROWS
            """).consume()
            n = s.run("MATCH (b:SmokeBatch) RETURN count(b) AS n").single()["n"]
            s.run("""
                MATCH (b:SmokeBatch)
                CALL (b) { DETACH DELETE b } IN TRANSACTIONS OF 1000 ROWS
            """).consume()
            left = s.run("MATCH (b:SmokeBatch) RETURN count(b) AS n").single()["n"]
        assert n == 2500 and left == 0, (n, left)
        return f"created {n}, deleted all"

    check("CALL { } IN TRANSACTIONS (auto-commit)", in_transactions)

    def cleanup():
        driver.execute_query("MATCH (f:SmokeFile) DETACH DELETE f")
        driver.execute_query("DROP CONSTRAINT smoke_file_path IF EXISTS")

    check("cleanup", cleanup)

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
