"""Push jobs: the address guard, the one outbound HTTP client for user URLs, the dispatcher."""
