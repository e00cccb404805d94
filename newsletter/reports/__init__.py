"""What readers did: an issue's report, the list's trends, list hygiene (issue 17)."""
