"""E-mail over SMTP (aiosmtplib)."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from .base import ChannelError, Envelope


class EmailSender:
    channel = "email"

    def __init__(
        self,
        host: str,
        port: int = 25,
        from_addr: str = "cur-monitor@localhost",
        username: str | None = None,
        password: str | None = None,
        start_tls: bool | None = None,
        timeout: float = 30,
    ):
        self.host, self.port, self.from_addr = host, port, from_addr
        self.username, self.password = username, password
        self.start_tls, self.timeout = start_tls, timeout

    def build(self, env: Envelope) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.from_addr
        msg["To"] = env.recipient
        msg["Subject"] = env.subject
        msg["Date"] = formatdate(localtime=False)
        domain = self.from_addr.rpartition("@")[2] or "localhost"
        msg["Message-ID"] = make_msgid(idstring=f"cur-outbox-{env.id}", domain=domain)
        # receivers may drop repeats of an at-least-once delivery by this header
        msg["X-CUR-Delivery"] = str(env.id)
        msg.set_content(env.body)
        return msg

    async def send(self, env: Envelope) -> None:
        import aiosmtplib  # imported on sending (see telegram.py)

        try:
            await aiosmtplib.send(
                self.build(env),
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password,
                use_tls=self.port == 465,  # implicit TLS (SMTPS); other ports upgrade with STARTTLS when offered
                start_tls=False if self.port == 465 else self.start_tls,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as e:
            raise ChannelError(f"SMTP: адрес отклонён: {e}", permanent=True) from e
        except (aiosmtplib.SMTPException, OSError) as e:
            code = getattr(e, "code", None)
            permanent = isinstance(code, int) and 500 <= code < 600
            raise ChannelError(f"SMTP {self.host}:{self.port}: {e}", permanent=permanent, status=code) from e
