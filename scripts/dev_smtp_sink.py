#!/usr/bin/env python
"""`make run`'s SMTP sink: prints each email decoded (no quoted-printable), with its code on a line of its own.

Usage: dev_smtp_sink.py HOST:PORT. Runs until SIGTERM or SIGINT. For development only: it prints
one-time codes, which is its purpose.
"""

from __future__ import annotations

import email
import email.policy
import re
import signal
import sys
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

# A standalone run of 6 to 10 digits, as codes are.
CODE = re.compile(r"(?<![\d.])\d{6,10}(?![\d.])")
RULE = "-" * 60


def render(message: EmailMessage, recipients: list[str]) -> str:
    """The email as a developer wants to read it: headers, the plain text decoded, the code highlighted."""
    part = message.get_body(("plain", "html"))
    text = part.get_content().strip() if part is not None else ""
    lines = [
        RULE,
        f"Email to {', '.join(recipients)}",
        f"From: {message['From']}",
        f"Subject: {message['Subject']}",
        "",
        *text.splitlines(),
    ]
    codes = CODE.findall(text)
    if codes:
        lines += ["", f">>> CODE: {codes[0]} <<<"]
    lines.append(RULE)
    return "\n".join(lines)


class PrintDecoded:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        print(render(message, list(envelope.rcpt_tos)), flush=True)  # type: ignore[arg-type]
        return "250 Message accepted"


def main() -> None:
    host, _, port = sys.argv[1].rpartition(":")
    controller = Controller(PrintDecoded(), hostname=host or "127.0.0.1", port=int(port))
    controller.start()
    print(f"SMTP sink listening on {host}:{port}", flush=True)
    try:
        signal.sigwait({signal.SIGTERM, signal.SIGINT})
    finally:
        controller.stop()


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    main()
