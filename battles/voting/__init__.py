"""The voter's side: serving a pool battle, the vote, live battles, the voter's pages."""
