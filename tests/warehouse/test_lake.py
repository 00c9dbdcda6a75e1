"""The lake's address: the password of a PostgreSQL catalog taken out of it."""

from __future__ import annotations

import pytest

from warehouse.lake import lake_of, without_password


@pytest.mark.parametrize(
    ("address", "catalog", "password"),
    [
        (
            "postgres:host=h port=5 user=u password=s3cr3t dbname=d",
            "postgres:host=h port=5 user=u dbname=d",
            "s3cr3t",
        ),
        ("postgres:password = 'a b\\'c' host=h", "postgres:host=h", "a b'c"),
        (
            "postgresql://u:p%40ss@h:5/d?sslmode=disable",
            "postgres:postgresql://u@h:5/d?sslmode=disable",
            "p@ss",
        ),
        ("postgresql://u@h/d?password=x&sslmode=disable", "postgres:postgresql://u@h/d?sslmode=disable", "x"),
        ("postgres:host=h dbname=d", "postgres:host=h dbname=d", None),
    ],
)
def test_the_password_comes_out_of_a_postgres_address(address, catalog, password):
    lake, found = without_password(lake_of(address))
    assert (lake.catalog, found) == (catalog, password)


def test_an_embedded_lake_has_no_password(tmp_path):
    lake = lake_of(tmp_path / "news.sqlite")
    assert without_password(lake) == (lake, None)
