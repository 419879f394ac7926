-- Emails to shoppers (issue 14).
-- The customer's language for messages (en, ko, ja, zh-CN, id; the program's default when
-- absent), their marketing consent as the merchant's platform reports it (absent: unknown), and
-- when they unsubscribed through a message's link: honoured by every later send, and not undone
-- by a profile update (only the customer can subscribe again).
ALTER TABLE customers ADD COLUMN language TEXT;
ALTER TABLE customers ADD COLUMN marketing_consent BOOLEAN;
ALTER TABLE customers ADD COLUMN unsubscribed_at_ms BIGINT;

-- A batch's optional last-chance warning, once, like the first.
ALTER TABLE expiry_warnings ADD COLUMN last_chance_at_ms BIGINT;

-- One row per message to one customer, decided by the outbox relay from the events a write
-- committed (so no message for a write that rolled back, none lost after a commit). dedupe_key
-- makes a message once per customer and fact (a reward unlocked once, a batch warned once); a
-- points-earned digest gathers the points of its period in `points` until it is due. The
-- worker leases due rows (lease_until_ms) so that replicas send each once; the address,
-- language and subject are recorded when it sends.
CREATE TABLE email_messages (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id     TEXT NOT NULL UNIQUE,
    program_id     TEXT NOT NULL,
    customer_id    TEXT NOT NULL,
    kind           TEXT NOT NULL,
    dedupe_key     TEXT NOT NULL,
    data           TEXT NOT NULL,
    points         BIGINT NOT NULL,
    status         TEXT NOT NULL,
    attempts       BIGINT NOT NULL,
    send_after_ms  BIGINT NOT NULL,
    lease_until_ms BIGINT,
    created_at_ms  BIGINT NOT NULL,
    sent_at_ms     BIGINT,
    to_address     TEXT,
    language       TEXT,
    subject        TEXT,
    last_error     TEXT,
    UNIQUE (program_id, customer_id, kind, dedupe_key)
);
CREATE INDEX email_messages_due ON email_messages (send_after_ms, id) WHERE status = 'pending';
CREATE INDEX email_messages_log ON email_messages (program_id, id);
CREATE INDEX email_messages_customer ON email_messages (program_id, customer_id, kind, id);
