"""Every table and column the contract defines says what it means, and nothing else does."""

import pytest

from superhero_assets.core import contract
from superhero_assets.core.column_docs import COLUMN_DESCRIPTIONS, TABLE_DESCRIPTIONS

SCHEMAS = {"raw_messages": contract.RAW_MESSAGES, **contract.TABLES}


@pytest.mark.parametrize("table", sorted(SCHEMAS))
def test_each_column_has_a_description_and_no_description_outlives_its_column(table):
    assert list(COLUMN_DESCRIPTIONS[table]) == SCHEMAS[table].names
    assert all(text.strip() for text in COLUMN_DESCRIPTIONS[table].values())
    assert TABLE_DESCRIPTIONS[table].strip()


def test_no_table_is_described_that_the_contract_lacks():
    assert set(COLUMN_DESCRIPTIONS) == set(TABLE_DESCRIPTIONS) == set(SCHEMAS)


def test_a_table_fed_by_one_topic_names_only_that_topic_also_when_prefixed():
    loaded = ("t1.lib.server.lobby", "t1.lib.server.game")
    assert contract.table_topics("lib_server_game", loaded) == ("t1.lib.server.game",)
    assert contract.table_topics("lib_server_lobby", contract.SOURCE_TOPICS) == (
        "lib.server.lobby",
    )
    assert contract.table_topics("buffer_meta", loaded) == loaded
