-- A version per distributor so consumers apply its events in order; where a review flag came from.
-- depends: 0001_distributors
ALTER TABLE distributors ADD COLUMN version integer NOT NULL DEFAULT 1;
