-- 005: the HTTP charset of each stored page, so that re-processing decodes it as the fetch did.
ALTER TABLE raw_pages ADD COLUMN charset VARCHAR;
