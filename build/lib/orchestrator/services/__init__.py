"""Use cases that the API, the CLI and the scheduler call."""
