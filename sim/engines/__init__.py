"""The engines: the vector engine (``vector``: arrays, batches of runs) and the Mesa engine (``mesa``:
one agent per object), sharing the status codes, transitions, agent state and counts of ``state``."""
