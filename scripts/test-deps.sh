#!/usr/bin/env bash
# What the test suite needs besides Rust and the services scripts/test.sh starts: the official
# Python MCP SDK (PyPI `mcp`), the client tests/mcp.rs drives `worker-host mcp` with. Run once
# per machine (CI: before scripts/test.sh); the tests install nothing themselves.
set -euo pipefail
python3 -m pip install --quiet mcp
