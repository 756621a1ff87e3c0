"""The catalog service: products (SKUs), their lifecycle, substitutes, bulk import and assortment mix."""
