"""The editor's tools: validate and build, preflight checks, drafts from arXiv, digest import."""
