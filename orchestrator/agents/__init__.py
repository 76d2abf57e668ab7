"""Agents, tools and teams (seeds 000, 001, 002) on the engine's turns and children: the
``agent``, ``tool`` and ``team`` nodes' work. Nothing here knows the engine; a loop keeps its
state in the checkpoint and ends every call with a ``Continue``."""
