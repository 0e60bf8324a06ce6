"""The vector engine: every agent attribute a NumPy array, batches of runs, an explicit monthly loop.

``simulate(world, inputs, seeds)`` runs a batch and returns ``Counts``; ``check_memory``
refuses a batch that would not fit. Modules: ``batch`` (stacked inputs, initial state,
draws, event counts), ``home`` (the home phase and its ``Home`` interface), ``pools``
(grouped home draws), ``phases`` (transit and border), ``loop`` (the month), ``memory``.
"""
from ..memory import available_bytes, check_memory, estimate_bytes
from .batch import Batch, initial_state
from .home import Home, PerAgentHome, make_home
from .loop import simulate, step_month
from .pools import HomePools

__all__ = ["Batch", "Home", "HomePools", "PerAgentHome", "available_bytes", "check_memory", "estimate_bytes",
           "initial_state", "make_home", "simulate", "step_month"]
