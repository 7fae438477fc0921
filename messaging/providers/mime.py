"""The MIME form of an email, for the providers that send whole messages (SMTP, SES with attachments)."""

from __future__ import annotations

from email.message import EmailMessage as MIMEMessage
from email.utils import formataddr

from messaging.providers.base import EmailMessage


def build_mime(message: EmailMessage, *, message_id: str) -> MIMEMessage:
    mime = MIMEMessage()
    mime["Subject"] = message.subject
    mime["From"] = formataddr((message.from_name, message.from_email))
    mime["To"] = message.to
    if message.cc:
        mime["Cc"] = ", ".join(message.cc)
    if message.reply_to:
        mime["Reply-To"] = ", ".join(message.reply_to)
    mime["Message-ID"] = message_id
    for name, value in message.tags.items():
        mime[f"X-Tag-{name}"] = value
    mime.set_content(message.text)
    if message.html:
        mime.add_alternative(message.html, subtype="html")
    for attachment in message.attachments:
        maintype, _, subtype = attachment.mimetype.partition("/")
        mime.add_attachment(attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename)
    return mime
