-- The whole product as the catalog's events carry it, so pricing can answer a distributor's
-- "product with my price" in one call. NULL for rows learned before: read as a miss and asked of
-- the catalog.
-- depends: 0001_pricing
ALTER TABLE products ADD COLUMN document jsonb;
