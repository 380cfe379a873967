"""Admin pages of the battles app, one module per area; importing them registers their ModelAdmins."""

from battles.admin import jobs, llms, pools, records

__all__ = ["jobs", "llms", "pools", "records"]
