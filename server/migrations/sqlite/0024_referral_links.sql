-- Referral links (issue 15): each customer's short code, and where a referral came from.
-- The code is the customer's for good (a link shared once keeps working); UNIQUE per program
-- so a code names one referrer.
CREATE TABLE referral_codes (
    program_id     TEXT NOT NULL,
    customer_id    TEXT NOT NULL,
    code           TEXT NOT NULL,
    created_at_ms  BIGINT NOT NULL,
    PRIMARY KEY (program_id, customer_id),
    UNIQUE (program_id, code)
);

-- A referral claimed from a link is checked before it pays: 'approved' pays on the referred
-- customer's first order, 'held' waits for the merchant (hold_reasons says why, a JSON list),
-- 'rejected' never pays. Referrals recorded through the API are the merchant's word: approved.
-- address_hash and device_hash are keyed fingerprints (never the address itself), counted to
-- find many claims from one network or browser in a window.
ALTER TABLE referrals ADD COLUMN status TEXT NOT NULL DEFAULT 'approved';
ALTER TABLE referrals ADD COLUMN hold_reasons TEXT NOT NULL DEFAULT '[]';
ALTER TABLE referrals ADD COLUMN channel TEXT NOT NULL DEFAULT 'api';
ALTER TABLE referrals ADD COLUMN code TEXT;
ALTER TABLE referrals ADD COLUMN address_hash TEXT;
ALTER TABLE referrals ADD COLUMN device_hash TEXT;
ALTER TABLE referrals ADD COLUMN reviewed_at_ms BIGINT;
ALTER TABLE referrals ADD COLUMN reviewed_by TEXT;
CREATE INDEX referrals_by_status ON referrals (program_id, status, created_at_ms);
CREATE INDEX referrals_by_address ON referrals (program_id, address_hash, created_at_ms);
CREATE INDEX referrals_by_device ON referrals (program_id, device_hash, created_at_ms);
