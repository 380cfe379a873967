"""Everything that leaves the building: the base-URL policy, HTTP clients that connect only to checked
addresses, and the provider wire code (OpenAI-compatible, Anthropic; pure: stdlib and httpx).
"""
