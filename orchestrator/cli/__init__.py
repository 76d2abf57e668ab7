"""The ``orchestrator`` command line.

``main`` runs a command and turns an expected failure into one ``error:`` line; ``parser``
builds the command tree. Commands that change or read resources go through the REST API, with
one client (``client``), reached as ``remote`` says: ``workflows``, ``executions`` (with
approvals and schedules), ``access`` (API keys, secrets), ``providers`` (with credentials and
models), ``agents`` (with tools and teams). ``local`` holds what works on this machine's
database and files instead, and why; ``run`` and ``standalone`` start the processes;
``progress`` and ``tables`` show things to people.
"""
