"""Use cases shared by the API, the dashboard and the scheduler (no rule lives twice)."""
