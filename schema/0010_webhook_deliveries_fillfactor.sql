-- Half of each new page of webhook_deliveries stays free, so a claim's update (lease columns,
-- none indexed) can stay on its page as a HOT update and write no index entries. With full pages
-- none could: `swapline bench --only webhooks` saw 1,250 of 20,400 updates HOT before, 10,179
-- after (every claim), and PostgreSQL's CPU per delivery went 231-238 -> 191-194 microseconds
-- (docs/PERFORMANCE.md). Deliveries are short-lived rows; the space is the price.
ALTER TABLE webhook_deliveries SET (fillfactor = 50);
