-- How each location was placed (SPEC: Orders and locations from Chinese addresses): the division its
-- address was resolved to, or "given" when coordinates were sent. Every earlier location sent them.
-- depends: 0002_version_and_flag_source
ALTER TABLE locations ADD COLUMN geocode jsonb;
UPDATE locations SET geocode = jsonb_build_object(
    'precision', 'given', 'adcode', NULL, 'province', NULL, 'city', NULL, 'district', NULL,
    'lat', lat, 'lon', lon);
ALTER TABLE locations ALTER COLUMN geocode SET NOT NULL;
