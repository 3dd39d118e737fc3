"""Sample emails for the support mailbox, as raw RFC 822 bytes.

:func:`demo_mails` is a fixed, hand-written Inbox and Junk folder holding every kind of mail
the operating instructions name (Amazon's copies, order notices and FBA promotions, buyer
messages, unknown mail that needs a summary), plus the awkward cases: HTML only, an
attachment, quoted replies and signatures, an encoded subject in a legacy charset,
lookalike "Amazon" senders, mail from the owner and mails with missing headers.
:func:`bulk_mails` produces any number of varied mails quickly for benchmarks.
Everything is fictitious: names, addresses and order ids are made up.
"""

from __future__ import annotations

import email.policy
import random
from datetime import datetime, timedelta, timezone
from email.header import Header
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

OWNER_ADDRESS = "owner@acme-goods.example"
SUPPORT_ADDRESS = "support@acme-goods.example"
SELLER_NAME = "Acme Goods"

#: The buyers of the demo, with the order each wrote about.
DEMO_BUYERS = [
    ("Olivia Brown", "113-5520981-3307741"),
    ("Daniel Kim", "111-0043278-6651902"),
    ("Rachel Green", "112-6604318-1123907"),
    ("Tom Becker", "114-2271096-5540018"),
    ("Wendy Park", "113-0000000-0000001"),
]
#: The buyer whose thread stays unanswered in the demo, so her email must stay.
UNANSWERED_BUYER = ("Wendy Park", "113-0000000-0000001")

_NOTIFY = ("Amazon Seller Central", "seller-notification@amazon.com")
_START = datetime(2025, 3, 10, 6, 30, tzinfo=timezone.utc)

_FYI = ("For Your Information: To help arbitrate disputes and preserve trust and safety, we "
        "retain all messages buyers and sellers send through Amazon.com for two years. This "
        "includes your response to the message below. Amazon uses filtering technology to "
        "protect buyers and sellers from possible fraud.")


# --------------------------------------------------------------------------- building blocks

def _when(minutes: int) -> str:
    return format_datetime(_START + timedelta(minutes=minutes))


def _base(*, sender: tuple[str, str] | None, subject: str | None, minutes: int,
          message_id: str | None, to: str = SUPPORT_ADDRESS) -> EmailMessage:
    msg = EmailMessage()
    if sender is not None:
        msg["From"] = formataddr(sender)
    msg["To"] = formataddr((SELLER_NAME, to))
    if subject is not None:
        msg["Subject"] = subject
    msg["Date"] = _when(minutes)
    if message_id is not None:
        msg["Message-ID"] = message_id
    return msg


def _as_bytes(msg: EmailMessage) -> bytes:
    return msg.as_bytes(policy=email.policy.SMTP)


def _plain(text: str, *, sender: tuple[str, str] | None, subject: str | None, minutes: int,
           message_id: str | None) -> bytes:
    msg = _base(sender=sender, subject=subject, minutes=minutes, message_id=message_id)
    msg.set_content(text)
    return _as_bytes(msg)


def _buyer_body(text: str) -> str:
    return (f"------------- Message: -------------\n\n{text}\n\n"
            f"------------- End message -------------\n\n{_FYI}\n")


def _copy_body(buyer: str, order_id: str, text: str) -> str:
    return (f"Dear {SELLER_NAME},\n\nThis is a copy of the message you sent to {buyer} "
            f"about order {order_id}.\n\n------------- Message: -------------\n\n{text}\n\n"
            f"------------- End message -------------\n\n{_FYI}\n")


def _sold_body(item: str, order_id: str, ship_by: str) -> str:
    return (f"Dear {SELLER_NAME},\n\nCongratulations! You sold an item. Please ship it as soon "
            f"as possible.\n\nOrder ID: {order_id}\nItem: {item}\nQuantity: 1\n"
            f"Ship by: {ship_by}\n\nTo see the order details, sign in to Seller Central and "
            "open Manage Orders.\n\nSincerely,\nAmazon Seller Services\n")


# --------------------------------------------------------------------------- the demo folders

def _inbox() -> list[bytes]:
    mails: list[bytes] = []
    olivia, daniel, rachel, _tom, wendy = DEMO_BUYERS

    # Amazon's copies of the seller's own messages
    mails.append(_plain(
        _copy_body(olivia[0], olivia[1], "Hello Olivia,\n\nthe board set has no juice groove "
                   "on the small board, only on the two larger ones.\n\nBest regards,\nAnna"),
        sender=_NOTIFY, subject="Your e-mail to Olivia Brown", minutes=0,
        message_id="<demo.copy-olivia@seller-notification.amazon.com>"))
    mails.append(_plain(
        _copy_body(daniel[0], daniel[1], "Hello Daniel,\n\nyour parcel left our warehouse on "
                   "Friday; the tracking is in Your Orders.\n\nBest regards,\nAnna"),
        sender=_NOTIFY, subject="Your e-mail to Daniel Kim", minutes=4,
        message_id="<demo.copy-daniel@seller-notification.amazon.com>"))

    # order notices
    mails.append(_plain(
        _sold_body("Bamboo Cutting Board Set (3 pieces)", daniel[1], "March 11, 2025"),
        sender=_NOTIFY, subject="Sold, ship now: Bamboo Cutting Board Set (3 pieces)",
        minutes=9, message_id="<demo.sold-boards@seller-notification.amazon.com>"))
    mails.append(_plain(
        _sold_body("Stainless Steel Garlic Press", rachel[1], "March 11, 2025"),
        sender=_NOTIFY, subject="Sold, ship now: Stainless Steel Garlic Press", minutes=13,
        message_id="<demo.sold-press@seller-notification.amazon.com>"))

    # Fulfillment by Amazon promotions: one by sender name, one by subject
    mails.append(_plain(
        "Hello Acme Goods,\n\nNew FBA sellers get free inbound placement on their first "
        "shipments until 30 April. Send your inventory to our fulfillment centers and we pick, "
        "pack and ship for you.\n\nThe Fulfillment by Amazon team\n",
        sender=("Fulfillment by Amazon", "fba-noreply@amazon.com"),
        subject="Free inbound placement for new sellers this spring", minutes=20,
        message_id="<demo.fba-sender@amazon.com>"))
    mails.append(_plain(
        "Hello Acme Goods,\n\nSellers who switch to Fulfillment by Amazon see more Prime "
        "customers. Start today with a few products.\n\nAmazon Selling Partner Services\n",
        sender=("Amazon Selling Partner Services", "sps-noreply@amazon.com"),
        subject="Let Fulfillment by Amazon ship your orders for you", minutes=24,
        message_id="<demo.fba-subject@amazon.com>"))

    # buyer messages (Tom Becker's is in Junk)
    mails.append(_plain(
        _buyer_body("Hi, I ordered the bamboo cutting board set. Does the large board have a "
                    "juice groove on both sides?"),
        sender=(f"{olivia[0]} - Amazon Marketplace", "7hcx2n4kqz9m3fv@marketplace.amazon.com"),
        subject=f"Inquiry from Amazon customer {olivia[0]} (Order: {olivia[1]})", minutes=31,
        message_id="<demo.buyer-olivia@marketplace.amazon.com>"))
    mails.append(_plain(
        _buyer_body("Hello, my order still hasn't arrived and the tracking has not moved since "
                    "Friday. Where is my order?"),
        sender=(f"{daniel[0]} - Amazon Marketplace", "q2lw8d5tzm0bxy1@marketplace.amazon.com"),
        subject=f"Where is my order? (Order: {daniel[1]})", minutes=38,
        message_id="<demo.buyer-daniel@marketplace.amazon.com>"))
    mails.append(_plain(
        _buyer_body("The garlic press arrived with a cracked handle. I would like to return "
                    "it, please."),
        sender=(f"{rachel[0]} - Amazon Marketplace", "m4ne6r8s0t2v4x6@marketplace.amazon.com"),
        subject=f"Return request for order {rachel[1]}", minutes=42,
        message_id="<demo.buyer-rachel@marketplace.amazon.com>"))
    mails.append(_plain(
        _buyer_body("Is the silicone baking mat safe to use in a 250 °C oven?"),
        sender=(f"{wendy[0]} - Amazon Marketplace", "w9pk3a7r1e5f2g8@marketplace.amazon.com"),
        subject=f"Question about order {wendy[1]}", minutes=47,
        message_id="<demo.buyer-wendy@marketplace.amazon.com>"))

    # unknown mail 1: a supplier's price change, HTML only
    msg = _base(sender=("Li Wei - Sunrise Bamboo Co.", "sales@sunrise-bamboo.example"),
                subject="New price list from 1 April 2025", minutes=55,
                message_id="<demo.price-change@sunrise-bamboo.example>")
    msg.set_content(
        "<!DOCTYPE html><html><head><title>Price list</title>"
        "<style>p { color: #333; } .hidden { display: none }</style></head><body>"
        "<p>Dear partner,</p>"
        "<p>From 1 April 2025 our prices for bamboo cutting boards rise by 6% because of "
        "higher raw material costs.</p>"
        "<p>Orders placed before 25 March are still invoiced at the old prices.</p>"
        "<table><tr><td>Board set (3 pieces)</td><td>USD 9.40</td></tr>"
        "<tr><td>Large board</td><td>USD 4.10</td></tr></table>"
        "<script>trackOpen('price-2025');</script>"
        "<p>Best regards,<br>Li Wei<br>Sunrise Bamboo Co.</p></body></html>",
        subtype="html")
    mails.append(_as_bytes(msg))

    # unknown mail 2: the accountant asking for documents, with attachments
    msg = _base(sender=("Maria Lopez", "maria.lopez@lopez-accounting.example"),
                subject="Documents needed for your Q1 VAT return", minutes=61,
                message_id="<demo.accountant@lopez-accounting.example>")
    msg.set_content(
        "Hi Sam,\n\nFor the Q1 VAT return I still need the Amazon settlement reports for "
        "January to March and the supplier invoices from Sunrise Bamboo. Could you send "
        "them by 20 March?\n\nThe attached checklist lists everything.\n\nKind regards,\n"
        "Maria Lopez\nLopez Accounting\n+1 555 0100 2233\n")
    msg.add_attachment(b"%PDF-1.4\n% checklist\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n",
                       maintype="application", subtype="pdf", filename="checklist-q1.pdf")
    msg.add_attachment("ATTACHED NOTES: settlement report ids 8841, 8842, 8843\n",
                       subtype="plain", filename="notes.txt")
    msg.set_boundary("=_demo_accountant_mixed")  # fixed, so the bytes are the same each call
    mails.append(_as_bytes(msg))

    # unknown mail 3: the carrier changes the pickup time; a reply with quote and signature
    mails.append(_plain(
        "Hello,\n\nStarting Monday 17 March your daily pickup moves from 4 pm to 2:30 pm "
        "because of a new route. Please have the parcels ready by 2:15 pm.\n\n"
        "-- \nJohn Miller\nFastFreight Dispatch\nphone +1 555 0142 7788\n\n"
        "On Fri, 7 Mar 2025 at 10:02, Acme Goods <support@acme-goods.example> wrote:\n"
        "> Hi John,\n> can we keep the 4 pm pickup next week?\n> Thanks, Anna\n",
        sender=("FastFreight Pickups", "pickups@fastfreight.example"),
        subject="Re: Daily pickup time at Acme Goods", minutes=66,
        message_id="<demo.pickup-change@fastfreight.example>"))

    # unknown mail 4: encoded subject and name, body in ISO-8859-1 (quoted-printable)
    mails.append(
        b"From: =?iso-8859-1?q?J=FCrgen_M=FCller?= <j.mueller@kartonwerk.example>\r\n"
        b"To: Acme Goods <support@acme-goods.example>\r\n"
        b"Subject: =?iso-8859-1?q?Lieferverz=F6gerung=3A_Versandkartons_Gr=F6=DFe?=\r\n"
        b" =?iso-8859-1?q?_M?=\r\n"
        + f"Date: {_when(72)}\r\n".encode()
        + b"Message-ID: <demo.carton-delay@kartonwerk.example>\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=\"iso-8859-1\"\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n"
        b"\r\n"
        b"Guten Tag,\r\n\r\n"
        b"our delivery of 2,000 shipping cartons size M (order KW-4471) is delayed by one wee=\r\n"
        b"k because of a machine breakdown. The new delivery date is 24.03.2025.\r\n\r\n"
        b"Mit freundlichen Gr=FC=DFen\r\n"
        b"J=FCrgen M=FCller\r\n"
        b"Kartonwerk S=FCd GmbH\r\n")

    # a lookalike "Amazon" sender
    mails.append(_plain(
        "Dear Seller,\n\nWe detected unusual activity on your seller account. Your account "
        "will be suspended within 24 hours unless you verify your identity at "
        "http://amaz0n-seller-support.com/verify\n\nAmazon Seller Support\n",
        sender=("Amazon Seller Support", "support@amaz0n-seller-support.com"),
        subject="Action required: your seller account will be suspended", minutes=80,
        message_id="<demo.phish-support@amaz0n-seller-support.com>"))

    # the owner answers an earlier question
    mails.append(_plain(
        "Accept the new prices and order 200 board sets before 25 March.\n\nSam\n\n"
        "On Mon, 10 Mar 2025 at 08:12, Acme Goods <support@acme-goods.example> wrote:\n"
        "> Sunrise Bamboo raises prices by 6% from 1 April. Shall we order before?\n",
        sender=("Sam Carter", OWNER_ADDRESS), subject="Re: New price list from 1 April 2025",
        minutes=95, message_id="<demo.owner-answer@acme-goods.example>"))

    # broken mails: no Subject; no From and no Message-ID
    mails.append(_plain(
        "The pallet with 300 garlic presses arrived today but 12 boxes are crushed. Should I "
        "refuse them or keep them for inspection?\n\nKevin\n",
        sender=("Kevin Ortiz", "kevin@acme-warehouse.example"), subject=None, minutes=101,
        message_id="<demo.no-subject@acme-warehouse.example>"))
    mails.append(_plain(
        "Invoice 2025-03 for storage unit 14 is due on 31 March: 180.00 USD.\n"
        "Pay by bank transfer to the account on file.\n",
        sender=None, subject="Your storage unit invoice", minutes=108, message_id=None))
    return mails


def _junk() -> list[bytes]:
    mails: list[bytes] = []
    rachel, tom = DEMO_BUYERS[2], DEMO_BUYERS[3]
    mails.append(_plain(
        _sold_body("Silicone Baking Mat (2-pack)", tom[1], "March 12, 2025"),
        sender=_NOTIFY, subject="Sold, ship now: Silicone Baking Mat (2-pack)", minutes=15,
        message_id="<demo.junk-sold-mat@seller-notification.amazon.com>"))
    mails.append(_plain(
        _copy_body(rachel[0], rachel[1], "Hello Rachel,\n\nplease send the press back with "
                   "the return label from Your Orders; we refund it on arrival.\n\nBest "
                   "regards,\nAnna"),
        sender=_NOTIFY, subject="Your e-mail to Rachel Green", minutes=50,
        message_id="<demo.junk-copy-rachel@seller-notification.amazon.com>"))
    mails.append(_plain(
        "Hello Acme Goods,\n\nFor a limited time new FBA sellers save 50% on monthly storage "
        "for 90 days.\n\nAmazon Services\n",
        sender=("Amazon Services", "fba-promotions@amazon.com"),
        subject="Fulfillment by Amazon: half-price storage for 90 days", minutes=58,
        message_id="<demo.junk-fba@amazon.com>"))
    mails.append(_plain(
        _buyer_body("Could you add a gift message \"Happy birthday, Anna!\" to my order? "
                    "It is a present."),
        sender=(f"{tom[0]} - Amazon Marketplace", "t5bk7c9d1f3h5j7@marketplace.amazon.com"),
        subject=f"Gift message for order {tom[1]}", minutes=63,
        message_id="<demo.junk-buyer-tom@marketplace.amazon.com>"))
    mails.append(_plain(
        "Your payment of USD 1,284.50 is on hold. Confirm your bank details within 12 hours "
        "at http://amazon.example-security.com/payments to release it.\n",
        sender=("Amazon Payments", "payments@amazon.example-security.com"),
        subject="Sold, ship now: confirm your bank details to release payment", minutes=77,
        message_id="<demo.junk-phish@amazon.example-security.com>"))
    return mails


def demo_mails() -> dict[str, list[bytes]]:
    """The demo mailbox: ``{"INBOX": [...], "Junk": [...]}`` of raw RFC 822 messages.

    The same bytes every call. Every mail has a unique Message-ID except one deliberately
    broken mail with neither From nor Message-ID.
    """
    return {"INBOX": _inbox(), "Junk": _junk()}


# --------------------------------------------------------------------------- bulk mail

_FIRST = ["Olivia", "Daniel", "Rachel", "Tom", "Wendy", "Liam", "Emma", "Noah", "Ava", "Lucas",
          "Mia", "Ethan", "Sofia", "Mateo", "Chloe", "Aarav", "Yuki", "José", "Zoë", "Björn",
          "Amélie", "Priya", "Kwame", "Fatima", "Hannah"]
_LAST = ["Brown", "Kim", "Green", "Becker", "Park", "Smith", "Nguyen", "García", "Müller",
         "Rossi", "Dubois", "Patel", "Okafor", "Tanaka", "Jensen", "O'Neil", "Kowalski",
         "Silva", "Haddad", "Novak"]
_ITEMS = ["Bamboo Cutting Board Set (3 pieces)", "Stainless Steel Garlic Press",
          "Silicone Baking Mat (2-pack)", "Cast Iron Skillet 10 inch", "Glass Food Storage "
          "Containers (10-pack)", "Digital Kitchen Scale", "Herb Scissors with 5 Blades",
          "Beeswax Food Wraps (Set of 6)", "Measuring Cups and Spoons Set",
          "Collapsible Colander"]
_QUESTIONS = [
    "Where is my order? The tracking has not moved for three days.",
    "The item arrived damaged. Can I get a replacement?",
    "Can I change the delivery address? I moved last week.",
    "Does this come with batteries?",
    "I would like to return it, it is the wrong size.",
    "Thank you, it arrived today and looks great!",
    "Please cancel my order, I ordered it twice by mistake.",
    "Can you include a gift receipt?",
    "What material is the handle made of?",
    "Could you send me an invoice with VAT for my company?",
]
_UNKNOWN = [
    (("Sunrise Bamboo Co.", "sales@sunrise-bamboo.example"), "Updated price list",
     "Our prices change from next month. The new list is attached."),
    (("Maria Lopez", "maria.lopez@lopez-accounting.example"), "Missing settlement report",
     "I still need the settlement report for last month. Could you send it this week?"),
    (("FastFreight Pickups", "pickups@fastfreight.example"), "Pickup schedule change",
     "Your daily pickup moves to 2:30 pm from Monday. Please have parcels ready by 2:15 pm."),
    (("Kartonwerk Süd GmbH", "orders@kartonwerk.example"), "Delivery delay cartons",
     "The shipping cartons are delayed by a week. The new date follows shortly."),
    (("Shopify Partners", "news@partner-news.example"), "Grow your own web shop",
     "Start your own web shop in minutes. Try it free for 14 days."),
    (("City Storage", "billing@city-storage.example"), "Storage unit invoice",
     "Your invoice for storage unit 14 is due at the end of the month."),
]
_LOOKALIKES = [
    ("Amazon Seller Support", "support@amaz0n-seller-support.com",
     "Action required: verify your seller account"),
    ("Amazon Payments", "payments@amazon.example-security.com",
     "Sold, ship now: confirm your bank details"),
    ("Arnazon Seller Central", "notice@arnazon-sellercentral.example", "Your listing is removed"),
    ("Seller Performance", "performance@amzn-seller-notices.example",
     "Your account health is at risk"),
]
_KINDS = ["sold", "copy", "fba", "buyer", "unknown", "lookalike"]
_WEIGHTS = [34, 14, 8, 30, 11, 3]
_ENCODED: dict[str, str] = {}


def _display(name: str, addr: str) -> str:
    """A From value; non-ASCII names as RFC 2047 encoded words (cached: it is slow)."""
    if name.isascii():
        return formataddr((name, addr))
    encoded = _ENCODED.get(name)
    if encoded is None:
        encoded = _ENCODED[name] = Header(name, "utf-8").encode()
    return f"{encoded} <{addr}>"


def _order_id(rng: random.Random) -> str:
    return (f"{rng.randint(111, 114)}-{rng.randint(0, 9_999_999):07d}-"
            f"{rng.randint(0, 9_999_999):07d}")


def _assemble(from_value: str, subject: str, date: str, message_id: str, body: str,
              html: str | None = None) -> bytes:
    if not subject.isascii():
        subject = Header(subject, "utf-8").encode()
    head = (f"From: {from_value}\r\nTo: {SELLER_NAME} <{SUPPORT_ADDRESS}>\r\n"
            f"Subject: {subject}\r\nDate: {date}\r\nMessage-ID: {message_id}\r\n"
            "MIME-Version: 1.0\r\n")
    if html is None:
        head += "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
        return (head + "\r\n" + body.replace("\n", "\r\n")).encode("utf-8")
    boundary = "=_alt_" + message_id.strip("<>").replace("@", "_")
    parts = (f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n"
             f"Content-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n"
             f"--{boundary}\r\nContent-Type: text/html; charset=utf-8\r\n"
             f"Content-Transfer-Encoding: 8bit\r\n\r\n{html}\r\n--{boundary}--\r\n")
    head += f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n'
    return (head + "\r\n" + parts.replace("\r\n", "\n").replace("\n", "\r\n")).encode("utf-8")


def bulk_mails(n: int, seed: int = 0) -> list[bytes]:
    """``n`` varied mails (mostly Amazon notices and buyer messages, some unknown mail and a
    few lookalikes), each with a unique Message-ID; the same ``seed`` gives the same mails."""
    rng = random.Random(seed)
    kinds = rng.choices(_KINDS, weights=_WEIGHTS, k=max(n, 0))
    start = _START - timedelta(days=30)
    out: list[bytes] = []
    for i, kind in enumerate(kinds):
        date = format_datetime(start + timedelta(minutes=7 * i + rng.randint(0, 6)))
        tag = f"{seed}.{i:07d}.{rng.getrandbits(32):08x}"
        buyer = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
        order = _order_id(rng)
        item = rng.choice(_ITEMS)
        html: str | None = None
        if kind == "sold":
            from_value = formataddr(_NOTIFY)
            subject = f"Sold, ship now: {item}"
            body = _sold_body(item, order, "within 2 business days")
            mid = f"<bulk.{tag}@seller-notification.amazon.com>"
        elif kind == "copy":
            from_value = formataddr(_NOTIFY)
            subject = f"Your e-mail to {buyer}"
            body = _copy_body(buyer, order, f"Hello {buyer.split()[0]},\n\nthank you for "
                              "your message. Your order is on its way.\n\nBest regards,\nAnna")
            mid = f"<bulk.{tag}@seller-notification.amazon.com>"
        elif kind == "fba":
            from_value = formataddr(("Fulfillment by Amazon", "fba-noreply@amazon.com"))
            subject = rng.choice(["Save on storage fees this quarter",
                                  "Let Fulfillment by Amazon ship for you",
                                  "New: FBA inbound placement service"])
            body = ("Hello Acme Goods,\n\nSend your inventory to Amazon and we pick, pack and "
                    "ship for you.\n\nThe Fulfillment by Amazon team\n")
            mid = f"<bulk.{tag}@amazon.com>"
        elif kind == "buyer":
            local = "".join(rng.choice("abcdefghjkmnpqrstuvwxyz0123456789") for _ in range(15))
            from_value = _display(f"{buyer} - Amazon Marketplace",
                                  f"{local}@marketplace.amazon.com")
            with_order = rng.random() < 0.85
            subject = (f"Inquiry from Amazon customer {buyer} (Order: {order})" if with_order
                       else f"Question from Amazon customer {buyer}")
            question = rng.choice(_QUESTIONS)
            body = _buyer_body(question if with_order else f"{question} (Order {order})")
            mid = f"<bulk.{tag}@marketplace.amazon.com>"
        elif kind == "unknown":
            (name, addr), subject, text = rng.choice(_UNKNOWN)
            from_value = _display(name, addr)
            body = f"Hello,\n\n{text}\n\nBest regards,\n{name}\n"
            if rng.random() < 0.3:
                html = f"<html><body><p>Hello,</p><p>{text}</p><p>{name}</p></body></html>"
            mid = f"<bulk.{tag}@{addr.split('@', 1)[1]}>"
        else:
            name, addr, subject = rng.choice(_LOOKALIKES)
            from_value = formataddr((name, addr))
            body = ("Dear Seller,\n\nYour account is on hold. Verify your details within 24 "
                    f"hours: http://{addr.split('@', 1)[1]}/verify\n")
            mid = f"<bulk.{tag}@{addr.split('@', 1)[1]}>"
        out.append(_assemble(from_value, subject, date, mid, body, html))
    return out


# --------------------------------------------------------------------------- mail no person wrote

def bounce_mail(recipient: str = "li.wei@old-sunrise-bamboo.example",
                subject: str = "Re: New price list from 1 April 2025", *,
                message_id: str = "<demo.bounce@mx.acme-goods.example>") -> bytes:
    """A Postfix bounce: multipart/report with a delivery-status part and the returned mail."""
    boundary = "=_bounce_" + message_id.strip("<>").replace("@", "_")
    return (
        "From: MAILER-DAEMON@mx.acme-goods.example (Mail Delivery System)\r\n"
        f"To: {SUPPORT_ADDRESS}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        f"Date: {_when(120)}\r\nMessage-ID: {message_id}\r\nReturn-Path: <>\r\n"
        "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=delivery-status;\r\n"
        f' boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
        "This is the mail system at host mx.acme-goods.example.\r\n\r\n"
        "I'm sorry to have to inform you that your message could not\r\n"
        "be delivered to one or more recipients. It's attached below.\r\n\r\n"
        f"<{recipient}>: host mx.old-sunrise-bamboo.example said: 550 5.1.1\r\n"
        f"    <{recipient}>: Recipient address rejected: User unknown\r\n\r\n"
        f"--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.acme-goods.example\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nOriginal-Recipient: rfc822;{recipient}\r\n"
        "Action: failed\r\nStatus: 5.1.1\r\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: Recipient address rejected:\r\n"
        "    User unknown in virtual mailbox table\r\n\r\n"
        f"--{boundary}\r\nContent-Type: message/rfc822\r\n\r\n"
        f"From: {SELLER_NAME} <{SUPPORT_ADDRESS}>\r\nTo: <{recipient}>\r\n"
        f"Subject: {subject}\r\nDate: {_when(110)}\r\n\r\n"
        "Hello Li, we accept the new prices.\r\n\r\n"
        f"--{boundary}--\r\n").encode()


def plain_bounce_mail() -> bytes:
    """An Exim bounce without a delivery-status part: only text says what bounced."""
    return (
        "From: Mail Delivery System <Mailer-Daemon@mail.acme-goods.example>\r\n"
        f"To: {SUPPORT_ADDRESS}\r\nSubject: Mail delivery failed: returning message to sender\r\n"
        f"Date: {_when(125)}\r\nMessage-ID: <demo.bounce-exim@mail.acme-goods.example>\r\n"
        "Auto-Submitted: auto-replied\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
        "This message was created automatically by mail delivery software.\r\n\r\n"
        "A message that you sent could not be delivered to one or more of its\r\n"
        "recipients. This is a permanent error. The following address(es) failed:\r\n\r\n"
        "  orders@kartonwerk-sued.example\r\n"
        "    host mx.kartonwerk-sued.example [192.0.2.7]\r\n"
        "    SMTP error from remote mail server after RCPT TO:<orders@kartonwerk-sued.example>:\r\n"
        "    552 5.2.2 Mailbox full\r\n\r\n"
        "------ This is a copy of the message, including all the headers. ------\r\n\r\n"
        f"From: {SELLER_NAME} <{SUPPORT_ADDRESS}>\r\nTo: orders@kartonwerk-sued.example\r\n"
        "Subject: Order KW-4471: new delivery date?\r\n\r\n"
        "Hello, when do the cartons arrive?\r\n").encode()


def auto_reply_mail(*, message_id: str = "<demo.ooo@lopez-accounting.example>") -> bytes:
    """An out-of-office answer from the accountant."""
    msg = _base(sender=("Maria Lopez", "maria.lopez@lopez-accounting.example"),
                subject="Automatic reply: Documents needed for your Q1 VAT return", minutes=130,
                message_id=message_id)
    msg["Auto-Submitted"] = "auto-replied"
    msg["X-Autoreply"] = "yes"
    msg.set_content("I am out of the office until 24 March with limited access to email. "
                    "For urgent matters please call the office.\n")
    return _as_bytes(msg)


def newsletter_mail(i: int, sender: tuple[str, str] = ("Shopify Partners",
                                                       "news@partner-news.example")) -> bytes:
    """Issue ``i`` of a newsletter (List-Id, List-Unsubscribe, Precedence: bulk)."""
    domain = sender[1].split("@", 1)[1]
    msg = _base(sender=sender, subject=f"Seller tips #{i}: grow your own web shop",
                minutes=140 + i, message_id=f"<demo.newsletter-{i}@{domain}>")
    msg["List-Id"] = f"Seller tips <tips.{domain}>"
    msg["List-Unsubscribe"] = f"<mailto:unsubscribe@{domain}?subject=tips>"
    msg["Precedence"] = "bulk"
    msg.set_content("This week: five ways to bring buyers to your own web shop. "
                    "Read more on our blog.\n")
    return _as_bytes(msg)


LONG_SUPPLIER_SUBJECT = ("Important changes to our delivery terms, minimum order quantities "
                         "and payment conditions for all bamboo products from Q2 2025")


def long_supplier_mail() -> bytes:
    """A supplier's long mail with a long subject: its summary does not fit one text."""
    body = (
        "Dear partner,\n\n"
        "Because our main bamboo plantation in Anji was hit by the floods in February, we "
        "must change our delivery terms for the second quarter: the minimum order for "
        "cutting board sets rises from 100 to 250 pieces, and every order needs a 30% "
        "prepayment before production starts.\n\n"
        "Orders confirmed before 31 March are delivered on the old terms.\n\n"
        "Our new warehouse in Ningbo opens on 15 April; from then on sea freight leaves "
        "every Tuesday instead of every second Friday, so your lead time falls by about "
        "four days.\n\n"
        "The full terms are attached. Please confirm by 28 March whether you want to "
        "place the Q2 order under the new terms.\n\nBest regards,\nLi Wei\n"
        "Sunrise Bamboo Co.\n")
    return _plain(body, sender=("Li Wei - Sunrise Bamboo Co.", "sales@sunrise-bamboo.example"),
                  subject=LONG_SUPPLIER_SUBJECT, minutes=150,
                  message_id="<demo.long-terms@sunrise-bamboo.example>")


def question_mail() -> bytes:
    """A short question from the carrier: the owner's text must stay a question."""
    return _plain("Hi,\n\nCan we pick up the 40 parcels tomorrow at 9 am instead of 2:30 pm?\n\n"
                  "Thanks,\nJohn\n", sender=("FastFreight Pickups", "pickups@fastfreight.example"),
                  subject="Pickup tomorrow", minutes=155,
                  message_id="<demo.pickup-question@fastfreight.example>")


def unknown_mails(n: int) -> list[bytes]:
    """``n`` different unknown mails (no rule matches): a backlog for the owner."""
    out: list[bytes] = []
    for i in range(max(n, 0)):
        (name, addr), subject, text = _UNKNOWN[i % len(_UNKNOWN)]
        if "partner-news" in addr:  # a person's mail here, not a list's
            name, addr = "Ava Novak", "ava@novak-design.example"
        out.append(_assemble(formataddr((name, addr)), f"{subject} ({i + 1})",
                             format_datetime(_START + timedelta(minutes=i)),
                             f"<backlog.{i:05d}@{addr.split('@', 1)[1]}>",
                             f"Hello,\n\n{text}\n\nBest regards,\n{name}\n"))
    return out


# --------------------------------------------------------------------------- authentication

#: The practice mailbox's receiving server, as it names itself in Authentication-Results.
AUTHSERV_ID = "mx.acme-goods.example"


def authentication_results(*, dmarc: str | None = "pass", dkim: str | None = "pass",
                           spf: str | None = "pass", domain: str = "amazon.com",
                           envelope: str | None = None,
                           authserv_id: str = AUTHSERV_ID) -> str:
    """An Authentication-Results value as a receiving server writes it (RFC 8601), with
    comments like Gmail's; a method given as None is left out."""
    parts = [authserv_id]
    if dkim is not None:
        parts.append(f"dkim={dkim} (2048-bit key) header.d={domain} header.i=@{domain} "
                     "header.s=practice header.b=AbCd1234")
    if spf is not None:
        parts.append(f"spf={spf} ({authserv_id}: domain of bounces@{envelope or domain} "
                     f"designates 192.0.2.25 as permitted sender) "
                     f"smtp.mailfrom=bounces@{envelope or domain}")
    if dmarc is not None:
        parts.append(f"dmarc={dmarc} (p=QUARANTINE sp=QUARANTINE dis=NONE) "
                     f"header.from={domain}")
    return "; ".join(parts)


def stamp(raw: bytes, authserv_id: str = AUTHSERV_ID, result: str = "none") -> bytes:
    """``raw`` as a receiving server that stamps every mail delivers it: its own
    Authentication-Results on top (``result``: what it found; "none": nothing checked),
    unless the top header is already its own."""
    top = raw.split(b"\r\n", 1)[0].split(b"\n", 1)[0]
    if top.lower().startswith(f"authentication-results: {authserv_id}".lower().encode()):
        return raw
    return f"Authentication-Results: {authserv_id}; {result}\r\n".encode() + raw


def _raw_mail(from_value: str, subject: str, message_id: str, body: str, *,
              results: tuple[str, ...] = (), minutes: int = 200) -> bytes:
    """Raw bytes with the From value exactly as given (a hostile header is not tidied) and
    the Authentication-Results on top, as the receiving server puts them."""
    head = "".join(f"Authentication-Results: {r}\r\n" for r in results)
    head += (f"From: {from_value}\r\nTo: {SELLER_NAME} <{SUPPORT_ADDRESS}>\r\n"
             f"Subject: {subject}\r\nDate: {_when(minutes)}\r\nMessage-ID: {message_id}\r\n"
             "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
             "Content-Transfer-Encoding: 8bit\r\n")
    return (head + "\r\n" + body.replace("\n", "\r\n")).encode("utf-8")


_SOLD = "Sold, ship now: Bamboo Cutting Board Set (3 pieces)"
_NOTICE = 'Amazon Seller Central <seller-notification@amazon.com>'


def trust_mails() -> dict[str, bytes]:
    """Mail that claims to come from Amazon, by case name: authenticated, spoofed (failing
    DMARC), carrying only a forged header from another server, and From headers that lie
    (an address in the display name, a reversed or invisible-character name, several
    addresses, Amazon's only as the second, an empty one, Amazon's domain inside a
    malformed address). Each has its own Message-ID ``<trust.<case>@...>``."""
    sold = _sold_body("Bamboo Cutting Board Set (3 pieces)", DEMO_BUYERS[1][1], "March 11, 2025")
    hold = ("Dear Seller,\n\nYour disbursements are on hold because your bank details could "
            "not be verified. Confirm them within 24 hours at http://pay-verify.example/sc "
            "to release USD 4,210.77.\n\nAmazon Payments\n")
    fail = authentication_results(dkim="fail", spf="fail", dmarc="fail",
                                  envelope="bulk-mailer.example")
    return {
        "authenticated": _raw_mail(_NOTICE, _SOLD, "<trust.authenticated@amazon.com>", sold,
                                   results=(authentication_results(),)),
        "spoofed_sold": _raw_mail(_NOTICE, _SOLD, "<trust.spoofed-sold@amazon.com>", sold,
                                  results=(fail,)),
        "spoofed_disbursement": _raw_mail(
            "Amazon Payments <payments@amazon.com>", "Your disbursements are on hold",
            "<trust.spoofed-disbursement@amazon.com>", hold, results=(fail,)),
        "foreign_header_only": _raw_mail(
            _NOTICE, _SOLD, "<trust.foreign-header@amazon.com>", sold,
            results=(authentication_results(authserv_id="mx.google.com"),)),
        "foreign_pass_under_fail": _raw_mail(
            _NOTICE, _SOLD, "<trust.foreign-pass@amazon.com>", sold,
            results=(fail, authentication_results(authserv_id="mx.google.com"))),
        "no_header": _raw_mail(_NOTICE, _SOLD, "<trust.no-header@amazon.com>", sold),
        "address_in_name": _raw_mail(
            "seller-notification@amazon.com <billing@pay-verify.example>", _SOLD,
            "<trust.address-in-name@pay-verify.example>", sold),
        "reversed_name": _raw_mail(
            "\u202etroppuS relleS nozamA\u202c <support@pay-verify.example>",
            "Your account is on hold", "<trust.reversed-name@pay-verify.example>", hold),
        "zero_width_name": _raw_mail(
            "Am\u200bazon Seller Support <support@pay-verify.example>",
            "Your account is on hold", "<trust.zero-width@pay-verify.example>", hold),
        "several_from": _raw_mail(
            f"{_NOTICE}, <billing@pay-verify.example>", _SOLD,
            "<trust.several-from@pay-verify.example>", sold,
            results=(authentication_results(),)),
        "empty_address": _raw_mail("Amazon Seller Central <>", _SOLD,
                                   "<trust.empty-address@pay-verify.example>", sold),
        "amazon_second_from": _raw_mail(
            f"<billing@pay-verify.example>, {_NOTICE}", _SOLD,
            "<trust.amazon-second-from@pay-verify.example>", sold),
        "amazon_inside_address": _raw_mail(
            "Amazon Seller Central <seller-notification@amazon.com@pay-verify.example>",
            _SOLD, "<trust.amazon-inside-address@pay-verify.example>", sold),
    }


def relay_buyer_mail(relay_domain: str, i: int = 0, *, authenticated: bool = True) -> bytes:
    """A buyer's email through the messaging relay ``relay_domain``
    (marketplace.amazon.<tld>), with a passing DMARC result unless ``authenticated`` is
    false."""
    name, order_id = DEMO_BUYERS[i % len(DEMO_BUYERS)]
    results = (authentication_results(domain=relay_domain),) if authenticated else ()
    local = f"b{i:03d}x7k2m9q4z"
    return _raw_mail(f"{name} - Amazon Marketplace <{local}@{relay_domain}>",
                     f"Question about order {order_id}", f"<relay.{i}@{relay_domain}>",
                     _buyer_body("Does the cutting board set come in a gift box?"),
                     results=results, minutes=210 + i)
