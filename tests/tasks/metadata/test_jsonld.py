"""JSON-LD objects and the page's own article among them."""

from tasks.metadata import (
    jsonld_objects,
    main_article,
)
from tests.tasks.metadata import tree


def test_broken_jsonld_is_skipped_and_lists_are_flattened():
    head = """
    <script type="application/ld+json">{"@type": "NewsArticle", "headline": </script>
    <script type="application/ld+json">[{"@type": "Organization", "name": "X"},
      {"@type": "NewsArticle", "headline": "Zweiter Versuch", "url": "https://a.example/b"}]</script>
    """
    objects = jsonld_objects(tree(head))
    assert [o["@type"] for o in objects] == ["Organization", "NewsArticle"]
    assert main_article(objects, "https://a.example/b/")["headline"] == "Zweiter Versuch"
