-- 012: demos before 009 stored the bundled sample newsroom under http://127.0.0.1:8765/...; the
-- sample's URLs are http://newsroom.localhost/... now, so such a lake would store the sample a second
-- time and keep three feeds that an ingest refuses (a loopback address). Where the lake holds the old
-- sample (its feed http://127.0.0.1:8765/feeds/inland.rss), its URLs are rewritten to the new ones; an
-- old row whose new URL is stored already (a demo ran on both) is a copy and goes. The feeds come last:
-- the old feed row is what every statement before checks. The key and search indexes follow the
-- change feed of article_store.

DELETE FROM quotes
WHERE starts_with(article_url, 'http://127.0.0.1:8765/')
  AND EXISTS (SELECT 1 FROM feeds WHERE feed_url = 'http://127.0.0.1:8765/feeds/inland.rss')
  AND replace(article_url, 'http://127.0.0.1:8765/', 'http://newsroom.localhost/')
      IN (SELECT url FROM article_store);
DELETE FROM raw_pages
WHERE starts_with(url, 'http://127.0.0.1:8765/')
  AND EXISTS (SELECT 1 FROM feeds WHERE feed_url = 'http://127.0.0.1:8765/feeds/inland.rss')
  AND replace(url, 'http://127.0.0.1:8765/', 'http://newsroom.localhost/') IN (SELECT url FROM article_store);
DELETE FROM story_keys
WHERE starts_with(url, 'http://127.0.0.1:8765/')
  AND EXISTS (SELECT 1 FROM feeds WHERE feed_url = 'http://127.0.0.1:8765/feeds/inland.rss')
  AND replace(url, 'http://127.0.0.1:8765/', 'http://newsroom.localhost/') IN (SELECT url FROM article_store);
DELETE FROM article_store
WHERE starts_with(url, 'http://127.0.0.1:8765/')
  AND EXISTS (SELECT 1 FROM feeds WHERE feed_url = 'http://127.0.0.1:8765/feeds/inland.rss')
  AND replace(url, 'http://127.0.0.1:8765/', 'http://newsroom.localhost/')
      IN (SELECT url FROM article_store WHERE starts_with(url, 'http://newsroom.localhost/'));

UPDATE quotes
SET article_url = replace(article_url, 'http://127.0.0.1:8765/', 'http://newsroom.localhost/')
WHERE starts_with(article_url, 'http://127.0.0.1:8765/')
  AND EXISTS (SELECT 1 FROM feeds WHERE feed_url = 'http://127.0.0.1:8765/feeds/inland.rss');
UPDATE raw_pages
SET url = replace(url, 'http://127.0.0.1:8765/', 'http://newsroom.localhost/')
WHERE starts_with(url, 'http://127.0.0.1:8765/')
  AND EXISTS (SELECT 1 FROM feeds WHERE feed_url = 'http://127.0.0.1:8765/feeds/inland.rss');
UPDATE story_keys
SET url = replace(url, 'http://127.0.0.1:8765/', 'http://newsroom.localhost/')
WHERE starts_with(url, 'http://127.0.0.1:8765/')
  AND EXISTS (SELECT 1 FROM feeds WHERE feed_url = 'http://127.0.0.1:8765/feeds/inland.rss');
UPDATE article_store
SET url = replace(url, 'http://127.0.0.1:8765/', 'http://newsroom.localhost/'),
    feed_url = replace(feed_url, 'http://127.0.0.1:8765/', 'http://newsroom.localhost/'),
    link = replace(link, 'http://127.0.0.1:8765/', 'http://newsroom.localhost/'),
    guid = replace(guid, 'http://127.0.0.1:8765/', 'http://newsroom.localhost/'),
    final_url = replace(final_url, 'http://127.0.0.1:8765/', 'http://newsroom.localhost/'),
    image = replace(image, 'http://127.0.0.1:8765/', 'http://newsroom.localhost/'),
    story_id = replace(story_id, 'http://127.0.0.1:8765/', 'http://newsroom.localhost/')
WHERE (starts_with(url, 'http://127.0.0.1:8765/') OR starts_with(story_id, 'http://127.0.0.1:8765/'))
  AND EXISTS (SELECT 1 FROM feeds WHERE feed_url = 'http://127.0.0.1:8765/feeds/inland.rss');
UPDATE feed_fetch_log
SET feed_url = replace(feed_url, 'http://127.0.0.1:8765/', 'http://newsroom.localhost/'),
    final_url = replace(final_url, 'http://127.0.0.1:8765/', 'http://newsroom.localhost/')
WHERE starts_with(feed_url, 'http://127.0.0.1:8765/')
  AND EXISTS (SELECT 1 FROM feeds WHERE feed_url = 'http://127.0.0.1:8765/feeds/inland.rss');

DELETE FROM feeds
WHERE starts_with(feed_url, 'http://127.0.0.1:8765/')
  AND EXISTS (SELECT 1 FROM feeds WHERE feed_url = 'http://127.0.0.1:8765/feeds/inland.rss')
  AND replace(feed_url, 'http://127.0.0.1:8765/', 'http://newsroom.localhost/') IN (SELECT feed_url FROM feeds);
UPDATE feeds
SET feed_url = replace(feed_url, 'http://127.0.0.1:8765/', 'http://newsroom.localhost/'),
    html_url = replace(html_url, 'http://127.0.0.1:8765/', 'http://newsroom.localhost/'),
    imported_from = replace(imported_from, 'http://127.0.0.1:8765/', 'http://newsroom.localhost/')
WHERE starts_with(feed_url, 'http://127.0.0.1:8765/')
  AND EXISTS (SELECT 1 FROM feeds WHERE feed_url = 'http://127.0.0.1:8765/feeds/inland.rss');
