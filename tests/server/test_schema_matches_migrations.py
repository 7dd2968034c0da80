"""town.db made by the Alembic migrations is the schema core/db.py (and the roll-up) describe.

A column, index or table added to the code without its migration (or the
other way round) would make a fresh town.db differ from an upgraded one;
Alembic's own comparison finds it.
"""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from sync.server.core import db, rollup  # noqa: F401 - rollup's tables are in db.metadata


def test_a_migrated_town_db_is_the_schema_the_code_describes(town_db):
    """On both engines: SQLite and PostgreSQL get every table, the roll-ups included, from Alembic."""
    engine = create_engine(db.db_url(str(town_db)))
    db.migrate(engine)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), db.metadata) == []
    assert set(db.metadata.tables) <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_one_surveys_ratings_are_read_through_their_index(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'town.db'}")
    db.migrate(engine)
    indexes = {ix["name"]: ix["column_names"] for ix in inspect(engine).get_indexes("ratings")}
    assert indexes["ix_ratings_survey"] == ["survey", "corrected_at"]
    with engine.connect() as conn:
        plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT id FROM ratings WHERE survey = 'mttq' LIMIT 1"))
    assert "ix_ratings_survey" in plan
