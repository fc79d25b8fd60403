#!/usr/bin/env bash
# Real Neo4j 5 Community (embedded, Bolt only) for worker-host's tests and CI.
# Neo4j comes from Maven Central via the small Maven project in scripts/neo4j/; see docs/neo4j.md.
#
#   scripts/neo4j.sh build                                  resolve + compile the launcher (no-op when up to date)
#   scripts/neo4j.sh start [--port P] [--data DIR] [--no-auth] [--heap SIZE] [--pagecache SIZE] [--conf k=v]...
#   scripts/neo4j.sh stop   [--port P]
#   scripts/neo4j.sh kill   [--port P]                      SIGKILL (a crash: no checkpoint; recovery at the next start)
#   scripts/neo4j.sh status [--port P]
#   scripts/neo4j.sh uri    [--port P]                      print the Bolt URI of a running server
#
# Environment:
#   NEO4J_PASSWORD        password of user neo4j (default worker-host-test; >= 8 characters)
#   NEO4J_HEAP            JVM -Xmx (default 1g); --heap overrides
#   NEO4J_PAGECACHE       Neo4j page cache (default 128m); --pagecache overrides
#   NEO4J_JAVA_OPTS       extra JVM options
#   NEO4J_START_TIMEOUT   seconds to wait for Bolt to be ready (default 90)
#   NEO4J_STOP_TIMEOUT    seconds to wait after SIGTERM before SIGKILL (default 60)
#   NEO4J_RUN_DIR         pid/log/ready files go in $NEO4J_RUN_DIR/<port>/ (default ${TMPDIR:-/tmp}/worker-host-neo4j)
#   JAVA                  java binary (default: $JAVA_HOME/bin/java, else java on PATH)
#   MVN                   mvn binary (default mvn); MVN_ARGS extra Maven arguments
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROJECT_DIR="$SCRIPT_DIR/neo4j"
JAR="$PROJECT_DIR/target/neo4j-launcher.jar"
STAMP="$PROJECT_DIR/target/.build-stamp"

PORT=7687
DATA=""
AUTH=1
HEAP="${NEO4J_HEAP:-1g}"
PAGECACHE="${NEO4J_PAGECACHE:-128m}"
CONFS=()

die() { echo "neo4j.sh: $*" >&2; exit 1; }
log() { echo "neo4j.sh: $*" >&2; }

java_bin() {
    if [[ -n "${JAVA:-}" ]]; then echo "$JAVA"
    elif [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then echo "$JAVA_HOME/bin/java"
    else command -v java || die "java not found (Java 17+ is needed)"
    fi
}

run_dir() { echo "${NEO4J_RUN_DIR:-${TMPDIR:-/tmp}/worker-host-neo4j}/$PORT"; }

# ---------------------------------------------------------------- build
needs_build() {
    [[ -f "$JAR" && -f "$STAMP" && -d "$PROJECT_DIR/target/lib" ]] || return 0
    [[ "$PROJECT_DIR/pom.xml" -nt "$STAMP" ]] && return 0
    [[ -n "$(find "$PROJECT_DIR/src" -newer "$STAMP" -type f -print -quit)" ]] && return 0
    return 1
}

cmd_build() {
    if ! needs_build; then
        log "launcher up to date ($JAR)"
        return 0
    fi
    command -v "${MVN:-mvn}" >/dev/null || die "mvn not found on PATH"
    log "building the launcher with Maven (first run downloads Neo4j into ~/.m2) ..."
    local t0=$SECONDS
    # All Maven output goes to stderr (stdout of `start` is only the Bolt URI); Debian's
    # Maven 3.8 prints stray colour resets even in batch mode: strip them.
    # shellcheck disable=SC2086
    "${MVN:-mvn}" -B -q --no-transfer-progress -Dstyle.color=never -f "$PROJECT_DIR/pom.xml" ${MVN_ARGS:-} package 2>&1 \
        | sed -u 's/\x1b\[[0-9;]*m//g' >&2 \
        || die "Maven build failed (see the output above)"
    touch "$STAMP"
    log "built $JAR in $((SECONDS - t0)) s"
}

# ---------------------------------------------------------------- helpers
pid_alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }

# The pid from the pid file, if that process is still our launcher.
running_pid() {
    local f pid
    f="$(run_dir)/neo4j.pid"
    [[ -f "$f" ]] || return 1
    pid="$(tr -dc '0-9' < "$f")"
    pid_alive "$pid" || return 1
    tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q 'neo4j-launcher' || return 1
    echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

log_tail() {
    local rd; rd="$(run_dir)"
    echo "----- last lines of $rd/neo4j.log -----" >&2
    tail -n 60 "$rd/neo4j.log" >&2 2>/dev/null || true
    local home; home="$(cat "$rd/data_dir" 2>/dev/null || true)"
    if [[ -n "$home" && -f "$home/logs/debug.log" ]]; then
        echo "----- last ERROR/WARN lines of $home/logs/debug.log -----" >&2
        grep -E ' (ERROR|WARN) ' "$home/logs/debug.log" | tail -n 20 >&2 || true
    fi
    echo "-----" >&2
}

rss_of() { awk '/VmRSS/ {print $2 " kB"}' "/proc/$1/status" 2>/dev/null || echo "?"; }

parse_common() {
    while [[ $# -gt 0 ]]; do
        case "$1" in
            --port) PORT="${2:?--port needs a value}"; shift 2 ;;
            --port=*) PORT="${1#*=}"; shift ;;
            --data) DATA="${2:?--data needs a value}"; shift 2 ;;
            --data=*) DATA="${1#*=}"; shift ;;
            --no-auth) AUTH=0; shift ;;
            --heap) HEAP="${2:?--heap needs a value}"; shift 2 ;;
            --heap=*) HEAP="${1#*=}"; shift ;;
            --pagecache) PAGECACHE="${2:?--pagecache needs a value}"; shift 2 ;;
            --pagecache=*) PAGECACHE="${1#*=}"; shift ;;
            --conf) CONFS+=(--conf "${2:?--conf needs key=value}"); shift 2 ;;
            --conf=*) CONFS+=(--conf "${1#*=}"); shift ;;
            *) die "unknown argument: $1 (see the header of $0)" ;;
        esac
    done
    [[ "$PORT" =~ ^[0-9]+$ ]] || die "--port must be a number"
}

# ---------------------------------------------------------------- start
cmd_start() {
    parse_common "$@"
    cmd_build
    local rd pid java t0 tmo
    rd="$(run_dir)"
    mkdir -p "$rd"
    if pid="$(running_pid)"; then
        die "already running on port $PORT (pid $pid, $(cat "$rd/ready" 2>/dev/null || echo 'not ready'))"
    fi
    if port_open "$PORT"; then
        die "port $PORT on 127.0.0.1 is already in use by another process"
    fi
    rm -f "$rd/neo4j.pid" "$rd/ready" "$rd/data_dir" "$rd/data_is_temp"

    if [[ -z "$DATA" ]]; then
        DATA="$(mktemp -d "${TMPDIR:-/tmp}/worker-host-neo4j-data.XXXXXX")"
        touch "$rd/data_is_temp"
    else
        mkdir -p "$DATA"
        DATA="$(cd "$DATA" && pwd)"
    fi
    echo "$DATA" > "$rd/data_dir"

    java="$(java_bin)"
    local args=(--home "$DATA" --port "$PORT" --pagecache "$PAGECACHE" --ready-file "$rd/ready")
    [[ $AUTH == 1 ]] || args+=(--no-auth)
    args+=("${CONFS[@]}")
    # Options Neo4j's own server start script passes to the JVM on Java 17.
    local jopts=(-Xmx"$HEAP" -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError
        --add-opens=java.base/java.nio=ALL-UNNAMED
        --add-opens=java.base/java.io=ALL-UNNAMED
        --add-opens=java.base/sun.nio.ch=ALL-UNNAMED
        -Dlog4j2.disable.jmx=true)
    # shellcheck disable=SC2206
    [[ -n "${NEO4J_JAVA_OPTS:-}" ]] && jopts+=(${NEO4J_JAVA_OPTS})

    t0=$(date +%s.%N)
    # setsid: own session, so a Ctrl-C in the calling shell does not reach the server.
    setsid nohup "$java" "${jopts[@]}" -jar "$JAR" "${args[@]}" </dev/null >"$rd/neo4j.log" 2>&1 &
    pid=$!
    echo "$pid" > "$rd/neo4j.pid"

    tmo="${NEO4J_START_TIMEOUT:-90}"
    local deadline=$((SECONDS + tmo))
    while [[ ! -s "$rd/ready" ]]; do
        if ! pid_alive "$pid"; then
            log "Neo4j exited during start-up"
            log_tail
            cleanup_run_dir
            exit 1
        fi
        if (( SECONDS >= deadline )); then
            log "Neo4j did not become ready on bolt://127.0.0.1:$PORT within ${tmo} s (NEO4J_START_TIMEOUT)"
            log_tail
            cmd_stop_pid "$pid"
            cleanup_run_dir
            exit 1
        fi
        sleep 0.2
    done
    local secs
    secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    log "Neo4j ready in ${secs} s: pid $pid, data $DATA, log $rd/neo4j.log, RSS $(rss_of "$pid"), auth $([[ $AUTH == 1 ]] && echo "neo4j/\$NEO4J_PASSWORD" || echo off)"
    cat "$rd/ready"   # stdout: the Bolt URI only, e.g. bolt://127.0.0.1:7687
}

# ---------------------------------------------------------------- stop
cmd_stop_pid() {
    local pid="$1" tmo="${NEO4J_STOP_TIMEOUT:-60}"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + tmo))
    while pid_alive "$pid"; do
        if (( SECONDS >= deadline )); then
            log "pid $pid still alive ${tmo} s after SIGTERM: sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.5
            break
        fi
        sleep 0.2
    done
}

cmd_stop() {
    parse_common "$@"
    local rd pid
    rd="$(run_dir)"
    if pid="$(running_pid)"; then
        log "stopping Neo4j on port $PORT (pid $pid)"
        cmd_stop_pid "$pid"
        log "stopped"
    else
        log "not running on port $PORT"
    fi
    cleanup_run_dir
}

# A crash: SIGKILL, wait for the exit, forget the pid; the data folder stays for the next start.
cmd_kill() {
    parse_common "$@"
    local rd pid
    rd="$(run_dir)"
    if pid="$(running_pid)"; then
        kill -KILL "$pid" 2>/dev/null || true
        # Gone, or a zombie its parent has not reaped yet (the server is dead either way).
        while pid_alive "$pid" && [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]]; do
            sleep 0.1
        done
        log "killed Neo4j on port $PORT (pid $pid)"
    else
        log "not running on port $PORT"
    fi
    rm -f "$rd/neo4j.pid" "$rd/ready"
}

# Forget the run state; delete the data directory if start made it (a fresh temp dir).
# The log stays, for post-mortems.
cleanup_run_dir() {
    local rd d
    rd="$(run_dir)"
    if [[ -f "$rd/data_is_temp" ]]; then
        d="$(cat "$rd/data_dir" 2>/dev/null || true)"
        if [[ "$d" == */worker-host-neo4j-data.* && -d "$d" ]]; then rm -rf "$d"; fi
    fi
    rm -f "$rd/neo4j.pid" "$rd/ready" "$rd/data_dir" "$rd/data_is_temp"
}

# ---------------------------------------------------------------- status
cmd_status() {
    parse_common "$@"
    local rd pid
    rd="$(run_dir)"
    if pid="$(running_pid)"; then
        if [[ -s "$rd/ready" ]] && port_open "$PORT"; then
            echo "running: $(cat "$rd/ready") pid $pid RSS $(rss_of "$pid") data $(cat "$rd/data_dir" 2>/dev/null)"
            return 0
        fi
        echo "starting (not ready): pid $pid on port $PORT"
        return 1
    fi
    echo "not running on port $PORT"
    return 3
}

cmd_uri() {
    parse_common "$@"
    running_pid >/dev/null || die "not running on port $PORT"
    cat "$(run_dir)/ready"
}

case "${1:-}" in
    build) shift; [[ $# -eq 0 ]] || die "build takes no arguments"; cmd_build ;;
    start) shift; cmd_start "$@" ;;
    stop) shift; cmd_stop "$@" ;;
    kill) shift; cmd_kill "$@" ;;
    status) shift; cmd_status "$@" ;;
    uri) shift; cmd_uri "$@" ;;
    *) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
