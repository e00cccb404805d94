"""The desk: the editors' and operators' web UI under ``/admin/`` (one module per page group)."""
