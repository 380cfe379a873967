"""What is measured: LLMs and their versions, API keys (environment variable or encrypted), prompt
pools, and the imports of prompts, existing answers and historical votes.
"""
