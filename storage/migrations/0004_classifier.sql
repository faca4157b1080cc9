-- Classifier learning: corrections workers made to a ticket's category, and the keyword weight
-- adjustments learned from them, per community (applied to the classifier at start-up).

CREATE TABLE classifier_corrections (
    id          INTEGER PRIMARY KEY,
    community   TEXT    NOT NULL,
    text        TEXT    NOT NULL,                      -- the message as reported (personal data)
    wrong       TEXT    NOT NULL,                      -- category the classifier gave
    correct     TEXT    NOT NULL,                      -- category the worker chose ('none' allowed)
    actor_id    INTEGER,                               -- Telegram id of the worker
    ticket_id   INTEGER,
    words       TEXT    NOT NULL DEFAULT '[]',         -- JSON list of the words adjusted
    created_at  TEXT    NOT NULL
);

CREATE INDEX classifier_corrections_community ON classifier_corrections (community, id);

CREATE TABLE classifier_weights (
    community   TEXT    NOT NULL,
    word        TEXT    NOT NULL,
    category    TEXT    NOT NULL,
    delta       REAL    NOT NULL,                      -- added to the keyword's weight
    corrections INTEGER NOT NULL DEFAULT 0,            -- how many corrections moved it
    updated_at  TEXT    NOT NULL,
    PRIMARY KEY (community, word, category)
);
