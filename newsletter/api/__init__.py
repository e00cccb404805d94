"""The REST API's logic below its routes (issue 22): who may call (``access.py``), readers
(``readers.py``), campaigns and issues (``catalog.py``), JSON values and cursors
(``values.py``) and the OpenAPI document (``openapi.py``). The routes in ``web/api.py``
only turn HTTP into these calls and :class:`~newsletter.errors.ApiError` into answers."""
