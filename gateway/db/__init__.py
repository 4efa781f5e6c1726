"""Database: SQLAlchemy models, engine/session factory, Alembic migrations."""
