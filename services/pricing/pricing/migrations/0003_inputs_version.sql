-- One counter that moves, in the same transaction, with every change to anything a price is computed
-- from: list prices, tiers, promotions, the price version and the read models of products and
-- distributors. Triggers bump it, so no code path can forget to. The quote path keeps an in-process
-- price book and stores a quote priced from it only if this counter still has the value the book was
-- read at (pricing/book.py): nothing the quote read can have changed in between.
-- A BEFORE-statement trigger takes this row's lock before the statement's own row locks, so writers of
-- these tables queue on it in one order and cannot deadlock through it.
-- depends: 0002_product_documents
CREATE TABLE inputs_version (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version    bigint NOT NULL
);
INSERT INTO inputs_version VALUES (true, 1);

CREATE FUNCTION bump_inputs_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE inputs_version SET version = version + 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER list_prices_bump_inputs BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON list_prices
    FOR EACH STATEMENT EXECUTE FUNCTION bump_inputs_version();
CREATE TRIGGER tiers_bump_inputs BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON tiers
    FOR EACH STATEMENT EXECUTE FUNCTION bump_inputs_version();
CREATE TRIGGER promotions_bump_inputs BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON promotions
    FOR EACH STATEMENT EXECUTE FUNCTION bump_inputs_version();
CREATE TRIGGER price_version_bump_inputs BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON price_version
    FOR EACH STATEMENT EXECUTE FUNCTION bump_inputs_version();
CREATE TRIGGER products_bump_inputs BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON products
    FOR EACH STATEMENT EXECUTE FUNCTION bump_inputs_version();
CREATE TRIGGER distributors_bump_inputs BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON distributors
    FOR EACH STATEMENT EXECUTE FUNCTION bump_inputs_version();
