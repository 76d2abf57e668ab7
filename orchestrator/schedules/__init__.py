"""Cron schedules of workflows (seed 001's ``scheduled_workflows``).

``cron`` evaluates expressions in a time zone, ``service`` holds the use cases the API calls,
``firing`` is what the beat process runs every tick, and ``bookkeeping`` is the transition
hook that records how a scheduled execution ended.
"""
