"""The engine: the library handle, the durable two-lane queue, task chains, events and handlers."""
