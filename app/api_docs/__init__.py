"""What people and client generators read about the API: the OpenAPI document's shape
(schema.py) and the Swagger UI and ReDoc pages that show it (pages.py)."""
