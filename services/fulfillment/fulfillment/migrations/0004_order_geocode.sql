-- Where each order is routed from (SPEC: Orders and locations from Chinese addresses): the division its
-- address was resolved to, or "given" when the storefront sent coordinates. Orders placed before this
-- migration all sent coordinates.
-- depends: 0003_applied_requests
ALTER TABLE orders ADD COLUMN geocode jsonb;
UPDATE orders SET geocode = jsonb_build_object(
    'precision', 'given', 'adcode', NULL, 'province', NULL, 'city', NULL, 'district', NULL,
    'lat', lat, 'lon', lon);
ALTER TABLE orders ALTER COLUMN geocode SET NOT NULL;
