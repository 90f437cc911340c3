-- The pair kill switch: a pair listed here is disabled at once on every node, over whatever the
-- market file says, until it is removed. Written by `swapline market disable|enable` (the
-- owner), read by the API and the execution worker; a change is published on NOTIFY
-- swapline_pair_switches so serving nodes reload the table within milliseconds.
--
-- pair_switches: one row per disabled pair.
--   source_currency, destination_currency  the pair, as in the market file
--   disabled_at                            when it was switched off
--   reason                                 the operator's note
CREATE TABLE pair_switches (
    source_currency      text NOT NULL,
    destination_currency text NOT NULL,
    disabled_at          timestamptz NOT NULL DEFAULT now(),
    reason               text NOT NULL DEFAULT '',
    PRIMARY KEY (source_currency, destination_currency)
);

GRANT SELECT ON pair_switches TO swapline_app;
