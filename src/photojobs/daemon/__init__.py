"""The daemon: one long-running process per library hosting the runner, the scheduler and the HTTP API."""
