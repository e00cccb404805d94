"""The store: SQLAlchemy tables and queries. The only package that speaks SQL."""
