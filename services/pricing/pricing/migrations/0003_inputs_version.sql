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

-- the tables a quote is priced from: one trigger each, <table>_bump_inputs
DO $$
DECLARE
    input_table text;
BEGIN
    FOREACH input_table IN ARRAY
        ARRAY['list_prices', 'tiers', 'promotions', 'price_version', 'products', 'distributors']
    LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION bump_inputs_version()',
                       input_table || '_bump_inputs', input_table);
    END LOOP;
END
$$;
