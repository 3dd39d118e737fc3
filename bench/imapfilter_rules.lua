-- The mailbox rules of the operating instructions, written for imapfilter, so that the
-- benchmark (bench/mailbox.py) can compare our triage with a plain filter on the same mail.
--
-- What it does to Inbox and Spam is what our triage does to the benchmark's mail:
--   * Amazon's own notices ("Your e-mail to ...", "Sold, ship now ...", Fulfillment by
--     Amazon promotions) from an Amazon domain go to Trash;
--   * buyer mail ("... Amazon Marketplace" from marketplace.amazon.com) stays;
--   * everything else (unknown senders, lookalikes) stays, marked unread for the VA.
-- Server details come from the environment: BENCH_IMAP_HOST, BENCH_IMAP_PORT,
-- BENCH_IMAP_USER, BENCH_IMAP_PASSWORD, BENCH_SPAM, BENCH_TRASH.

options.info = false
options.timeout = 600
options.starttls = false
options.certificates = false
-- Huge UID sets are sent in pieces (a single command for 40,000 UIDs fails on some servers).
options.limit = 1000

local account = IMAP {
    server = os.getenv('BENCH_IMAP_HOST'),
    port = tonumber(os.getenv('BENCH_IMAP_PORT')),
    username = os.getenv('BENCH_IMAP_USER'),
    password = os.getenv('BENCH_IMAP_PASSWORD'),
}
local trash = account[os.getenv('BENCH_TRASH')]

for _, name in ipairs({ 'INBOX', os.getenv('BENCH_SPAM') }) do
    local box = account[name]
    local all = box:select_all()
    -- From an Amazon domain: narrowed by the server, then the address checked exactly.
    local amazon = box:contain_from('amazon.com'):match_from('[@.]amazon\\.com>?\\s*$')
    local buyers = amazon:match_from('(?i)amazon\\s+marketplace')
    -- Subjects are searched by the server, which decodes MIME encoded words
    -- ("=?utf-8?q?Your_e-mail_to_Zo=C3=AB_Kim?="); a client-side regex would not.
    local notices = amazon:contain_subject('Your e-mail to')
        + amazon:contain_subject('Sold, ship now')
        + (amazon - buyers):contain_subject('Fulfillment by Amazon')
        + (amazon - buyers):match_from('^\\s*"?Fulfillment by Amazon')
    local others = all - amazon
    others:unmark_seen()
    notices:move_messages(trash)
end
