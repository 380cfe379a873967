"""Pure code of the arena, no Django: the pairing policy, identity-leak and too-fast checks, prompt
text normalisation, and the one Markdown renderer for untrusted answers.
"""
