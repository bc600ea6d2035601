"""One message over an open SMTP session, pipelined (RFC 2920) when the server offers it.

smtplib waits for a reply after each command: MAIL, each RCPT, DATA, then the data, so a
message costs 3 + recipients round trips. With PIPELINING the envelope's commands go in one
write and their replies are read together, then the data and its final dot go: two round
trips whatever the recipients. Every high-volume mail server offers it (Postfix, Exim,
Amazon SES, SendGrid, Mailgun); on a busy sender each round trip waits for two processes to
be scheduled, so halving them halves most of a message's time on the session.

`sendmail` keeps smtplib.SMTP.sendmail's contract: the same return value and the same
exceptions in the same cases (SMTPSenderRefused, SMTPRecipientsRefused, SMTPDataError, and
SMTPServerDisconnected from the session), the session reset or closed as smtplib leaves it,
so callers classify failures as before. All the replies of a pipelined batch are read before
anything is decided, so the session stays in step for its next message. Without PIPELINING,
or with an address that ASCII commands cannot carry, it is smtplib's own sendmail.
"""

import re
import smtplib
from contextlib import suppress
from smtplib import SMTPDataError, SMTPRecipientsRefused, SMTPSenderRefused, SMTPServerDisconnected, quoteaddr

CRLF = b"\r\n"
# A line of the data that starts with a dot gets another (RFC 5321 4.5.2), as smtplib does.
_LEADING_DOT = re.compile(rb"(?m)^\.")

Refused = dict[str, tuple[int, bytes]]


def sendmail(smtp: smtplib.SMTP, sender: str, recipients: list[str], message: bytes) -> Refused:
    """Send `message` (bytes with CRLF line ends) to `recipients`; returns the recipients the
    server refused while it took the message for the others, as smtplib does."""
    smtp.ehlo_or_helo_if_needed()
    if not (smtp.does_esmtp and smtp.has_extn("pipelining")) or not _ascii(sender, recipients):
        return smtp.sendmail(sender, recipients, message)
    size = f" size={len(message)}" if smtp.has_extn("size") else ""
    envelope = [f"mail FROM:{quoteaddr(sender)}{size}", *(f"rcpt TO:{quoteaddr(to)}" for to in recipients), "data"]
    smtp.send("".join(f"{command}\r\n" for command in envelope).encode("ascii"))

    mail_code, mail_reply = smtp.getreply()
    if mail_code == 421:  # the server is closing the session: nothing more will come
        smtp.close()
        raise SMTPSenderRefused(mail_code, mail_reply, sender)
    refused: Refused = {}
    for to in recipients:
        code, reply = smtp.getreply()
        if code not in (250, 251):
            refused[to] = (code, reply)
        if code == 421:
            smtp.close()
            raise SMTPRecipientsRefused(refused)
    data_code, data_reply = smtp.getreply()

    if mail_code != 250 or len(refused) == len(recipients):
        if data_code == 354:  # a server that took DATA with nobody to deliver to: end it empty
            smtp.send(b"." + CRLF)
            smtp.getreply()
        if data_code == 421:
            smtp.close()
        else:
            _reset(smtp)
        if mail_code != 250:
            raise SMTPSenderRefused(mail_code, mail_reply, sender)
        raise SMTPRecipientsRefused(refused)
    if data_code != 354:
        raise SMTPDataError(data_code, data_reply)  # as smtplib's data(): no reset

    data = _LEADING_DOT.sub(b"..", message)
    if data[-2:] != CRLF:
        data += CRLF
    smtp.send(data + b"." + CRLF)
    code, reply = smtp.getreply()
    if code != 250:
        if code == 421:
            smtp.close()
        else:
            _reset(smtp)
        raise SMTPDataError(code, reply)
    return refused


def _reset(smtp: smtplib.SMTP) -> None:
    """RSET, as smtplib's sendmail resets after a refusal (its `_rset`): a server already gone
    is not an error here, the next command will say so."""
    with suppress(SMTPServerDisconnected):
        smtp.rset()


def _ascii(sender: str, recipients: list[str]) -> bool:
    return sender.isascii() and all(to.isascii() for to in recipients)
