"""The generic job engine: the durable two-lane queue and runner, task chains, events, pause and the handler registry."""
