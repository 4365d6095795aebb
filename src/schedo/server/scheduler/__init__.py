"""Background loops: the ticker (creates due runs) and the reaper (deadlines and retries)."""
