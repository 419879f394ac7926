-- The money side of an order, for refunds in proportion to the refunded amount.
ALTER TABLE orders ADD COLUMN amount BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN refunded BIGINT NOT NULL DEFAULT 0;
