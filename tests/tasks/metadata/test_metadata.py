"""read_metadata: every field from its most trusted source."""

from datetime import datetime, timedelta

from tasks.metadata import (
    read_metadata,
)
from tests.tasks.metadata import CET, FETCHED, tree

GRAPH_PAGE = """
<title>Deich bei Husum hält dem Sturm stand | Küstenbote</title>
<meta property="og:site_name" content="Küstenbote">
<meta property="og:title" content="Sturmflut: Deich hält | Küstenbote">
<meta property="article:published_time" content="2025-03-04T09:00:00+01:00">
<meta name="author" content="Küstenbote">
<script type="application/ld+json">
{"@context": "https://schema.org", "@graph": [
  {"@type": "WebSite", "name": "Küstenbote"},
  {"@type": "BreadcrumbList", "itemListElement": []},
  {"@type": ["ReportageNewsArticle"], "headline": "Deich bei Husum h&auml;lt dem Sturm stand",
   "datePublished": "2025-03-04T08:30:00+01:00", "dateModified": "2025-03-04T10:15:00+01:00",
   "inLanguage": "de-DE", "isAccessibleForFree": "False",
   "author": [{"@type": "Person", "name": "Tjark Ohlsen"}, {"@type": "Organization", "name": "dpa"}],
   "publisher": {"@type": "NewsMediaOrganization", "name": "Küstenbote"},
   "articleBody": "Der Deich hielt. Die Pegel sanken am Morgen."}
]}
</script>
"""


def test_read_metadata_prefers_the_jsonld_article_inside_a_graph():
    stated = read_metadata(tree(GRAPH_PAGE), "https://www.kuestenbote.example/deich.html", FETCHED)
    assert stated.title == "Deich bei Husum hält dem Sturm stand"
    assert stated.authors == ("Tjark Ohlsen",)
    assert stated.agencies == ("dpa",)
    assert stated.published_at == datetime(2025, 3, 4, 8, 30, tzinfo=CET)
    assert stated.published_at.utcoffset() == timedelta(hours=1)  # the page's own offset, not UTC
    assert stated.modified_at == datetime(2025, 3, 4, 10, 15, tzinfo=CET)
    assert stated.declared_language == "de"
    assert stated.paywalled is True
    assert stated.site_name == "Küstenbote"
    assert stated.article_body.startswith("Der Deich hielt.")


def test_meta_tags_stand_in_where_there_is_no_jsonld():
    head = """
    <meta property="og:title" content="SEEBLICK - Fähre fällt wegen Nebel aus">
    <meta property="og:site_name" content="Seeblick">
    <meta name="author" content="Von Ina Berg und Ole Friis">
    <meta name="date" content="2025-03-03T18:20:00+01:00">
    """
    stated = read_metadata(tree(head), "https://seeblick.example/faehre", FETCHED)
    assert stated.title == "Fähre fällt wegen Nebel aus"
    assert stated.authors == ("Ina Berg", "Ole Friis")
    assert stated.published_at == datetime(2025, 3, 3, 18, 20, tzinfo=CET)
