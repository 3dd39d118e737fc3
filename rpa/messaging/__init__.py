"""What may be said to a buyer: Amazon's messaging rules and the seller's reply templates.

``policy`` (Amazon's rules for buyer messages: no links, addresses or phone numbers, no
review requests; every outgoing text is checked) and ``replies`` (what to do with a
buyer's message: a reply template, the holding reply, or no response). Pure: no browser,
no mailbox, no files. Imports only the cross-cutting top-level pieces; the configuration
validates the templates with it, and Seller Central, the owner, the console and the flows
check texts with it.
"""
