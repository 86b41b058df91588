"""Real MCP servers with the faults a supervisor must survive, for the tests."""
