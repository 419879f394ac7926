-- Who referred whom. Both earn on the referred customer's first order; rewarded_at_ms marks it.
CREATE TABLE referrals (
    program_id     TEXT NOT NULL,
    referred_id    TEXT NOT NULL,
    referrer_id    TEXT NOT NULL,
    created_at_ms  BIGINT NOT NULL,
    rewarded_at_ms BIGINT,
    PRIMARY KEY (program_id, referred_id)
);
