from tests.api.conftest import anonymous, client, other, stack  # noqa: F401  (the same fixtures)
