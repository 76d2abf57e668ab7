"""What keeps the product safe at its edges, below every package that reaches out:
``network`` (the address rule and the pinned HTTP client that http nodes and tools use) and
``pinned_httpx`` (the same rule under the model SDKs' httpx clients)."""
