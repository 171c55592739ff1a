"""A stdlib-only simulator of Batch's audience APIs, served over real HTTP.

Tests start it on port 0 in a thread (``with BatchSimulator() as sim: ...``); the demo runs it in process
and ``python -m audienceadmin.batch.simulator`` on its own. State lives in memory. Faults (errors, delays,
hung or dropped connections, broken bodies) can be injected from Python or over HTTP through the
unauthenticated control plane under ``/_sim/``, which answers loopback peers only.

Every API request (not the control plane) is recorded with the fault applied and the status sent, so
tests can assert on what the server actually received. No Django here: the standard library only.

Modules, one question each: protocol (error table and bodies, names, JSON), state (what is held in
memory), faults (the fault model and matching), replies (what a fault sends), mep (the 1.0/1.1 routes),
server (HTTP framing and dispatch), control (``/_sim/``), core (``BatchSimulator``), cli (``main``).
"""

from .cli import main
from .core import BatchSimulator
from .faults import FAULT_ACTIONS
from .mep import AUDIENCE_TYPES
from .protocol import ERRORS
from .records import RecordedRequest

__all__ = [
    "AUDIENCE_TYPES",
    "ERRORS",
    "FAULT_ACTIONS",
    "BatchSimulator",
    "RecordedRequest",
    "main",
]
