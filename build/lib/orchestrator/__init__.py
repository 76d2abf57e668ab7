"""Orchestrator: durable, distributed workflow orchestration for AI-agent workflows."""
