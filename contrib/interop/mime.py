#!/usr/bin/python3
# contrib/interop/mime.py — the mail around what the producers make (issue 11's interop suite):
# the envelope a mail client puts around an OpenPGP message (PGP/MIME, inline, an attachment,
# RFC 3156 multipart/signed), the payloads clients encrypt (plain text, text plus the sender's
# key), the Autocrypt header, and plain mail in legacy charsets from Python's email package.
# Only this file's own framing is ours; every OpenPGP byte comes from the producer.
#
#   mime.py payload NAME [--key CERT]           the MIME entity a client encrypts or signs
#   mime.py pgpmime NAME SUBJECT ARMORED [--autocrypt CERT]
#   mime.py inline NAME SUBJECT ARMORED [--autocrypt CERT]
#   mime.py attachment NAME SUBJECT FILE FILENAME TYPE [--autocrypt CERT]
#   mime.py signed NAME SUBJECT ENTITY SIGNATURE [--autocrypt CERT]
#   mime.py charset NAME CHARSET                plain mail made by Python's email package
# Mail goes to stdout with CRLF line ends; NAME picks the sender and the Message-ID.
import base64
import email.header
import email.mime.text
import email.policy
import email.utils
import sys

DATE = "Thu, 26 Nov 2026 10:00:00 +0000"
TO = "security@example.org"

# The text of each legacy-charset report (body, subject, display name), shared with s-nail's
# messages in generate.sh and with expected.tsv.
LEGACY = {
    "iso-2022-jp": ("脆弱性の報告です。パーサーが溢れます。", "脆弱性の報告", "山田太郎"),
    "shift_jis": ("脆弱性の報告です。パーサーが溢れます。", "脆弱性の報告", "山田太郎"),
    "euc-jp": ("脆弱性の報告です。パーサーが溢れます。", "脆弱性の報告", "山田太郎"),
    "euc-kr": ("취약점 보고: 파서가 넘칩니다.", "취약점 보고", "김철수"),
    "gb18030": ("漏洞报告：解析器溢出。", "漏洞报告", "王伟"),
    "big5": ("漏洞報告：解析器溢位。", "漏洞報告", "陳大文"),
    "koi8-r": ("Отчёт об уязвимости: переполнение в парсере.", "Уязвимость в парсере", "Иван Петров"),
    "windows-1251": ("Отчёт об уязвимости: переполнение в парсере.", "Уязвимость в парсере", "Иван Петров"),
    "windows-1252": (
        "Rapport de vulnérabilité : dépassement dans l’analyseur — « urgent »",
        "Vulnérabilité – dépassement",
        "Zoë Müller",
    ),
}


def producer(name):
    """The producer part of a message name: gpg-inline -> gpg."""
    return name.split("-")[0]


def sender(name):
    p = producer(name)
    return f"{p.capitalize()} Reporter <{p}@reporter.example>"


def crlf(text):
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def head(name, subject, extra=""):
    return crlf(
        f"From: {sender(name)}\nTo: {TO}\nSubject: {subject}\nDate: {DATE}\n"
        f"Message-ID: <{name}@reporter.example>\n{extra}MIME-Version: 1.0\n"
    )


def report_text(name):
    return f"Report {name}: the parser overflows on a 70000-byte header line.\n"


def dearmor(armored):
    """The bytes inside an ASCII armor (RFC 9580 §6): headers, blank line, base64, checksum."""
    lines = armored.replace("\r\n", "\n").split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("-----BEGIN "))
    body = []
    in_headers = True
    for line in lines[start + 1:]:
        if line.startswith("-----END "):
            break
        if in_headers:
            if ":" in line and not line.strip() == "":
                continue
            in_headers = False
            if line.strip() == "":
                continue
        if line.startswith("=") and len(line.strip()) == 5:
            continue
        body.append(line.strip())
    return base64.b64decode("".join(body))


def autocrypt(cert_file, addr):
    """An Autocrypt header (Level 1) for the cert, folded at 76 columns."""
    with open(cert_file) as f:
        data = base64.b64encode(dearmor(f.read())).decode()
    folded = "\n ".join(data[i:i + 76] for i in range(0, len(data), 76))
    return f"Autocrypt: addr={addr}; keydata=\n {folded}\n"


def extra_headers(name, args):
    if "--autocrypt" in args:
        cert = args[args.index("--autocrypt") + 1]
        return autocrypt(cert, f"{producer(name)}@reporter.example")
    return ""


def payload(name, args):
    """What a client encrypts: the text, or the text and the sender's key (Enigmail's
    "attach my public key"), as one MIME entity."""
    text = report_text(name)
    if "--key" not in args:
        return crlf(f"Content-Type: text/plain; charset=utf-8\n\n{text}")
    with open(args[args.index("--key") + 1]) as f:
        key = f.read().strip()
    return crlf(
        'Content-Type: multipart/mixed; boundary="inner"\n\n'
        f"--inner\nContent-Type: text/plain; charset=utf-8\n\n{text}"
        f'--inner\nContent-Type: application/pgp-keys; name="{producer(name)}.asc"\n'
        f'Content-Disposition: attachment; filename="{producer(name)}.asc"\n\n'
        f"{key}\n--inner--\n"
    )


def read(path):
    with open(path) as f:
        return f.read().strip()


def pgpmime(name, subject, armored, args):
    """RFC 3156 §4 multipart/encrypted, as Thunderbird, Enigmail and Proton frame it."""
    return head(name, subject, extra_headers(name, args)) + crlf(
        'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted";\n'
        ' boundary="outer"\n\n'
        "This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)\n"
        "--outer\nContent-Type: application/pgp-encrypted\n"
        "Content-Description: PGP/MIME version identification\n\nVersion: 1\n\n"
        '--outer\nContent-Type: application/octet-stream; name="encrypted.asc"\n'
        "Content-Description: OpenPGP encrypted message\n"
        'Content-Disposition: inline; filename="encrypted.asc"\n\n'
        f"{read(armored)}\n\n--outer--\n"
    )


def inline(name, subject, armored, args):
    """An armored block in a text/plain body (a webmail's or a script's inline PGP)."""
    return head(name, subject, extra_headers(name, args)) + crlf(
        "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 7bit\n\n"
        f"{read(armored)}\n"
    )


def attachment(name, subject, path, filename, ctype, args):
    """multipart/mixed: a short clear note and the encrypted report attached, armored as it is
    or base64 when binary."""
    with open(path, "rb") as f:
        data = f.read()
    if data.startswith(b"-----BEGIN "):
        enc, content = "7bit", data.decode().strip()
    else:
        b64 = base64.b64encode(data).decode()
        enc, content = "base64", "\n".join(b64[i:i + 76] for i in range(0, len(b64), 76))
    return head(name, subject, extra_headers(name, args)) + crlf(
        'Content-Type: multipart/mixed; boundary="mixed"\n\n'
        "--mixed\nContent-Type: text/plain; charset=utf-8\n\n"
        "Hello, the report is in the encrypted attachment.\n"
        f'--mixed\nContent-Type: {ctype}; name="{filename}"\n'
        f'Content-Disposition: attachment; filename="{filename}"\n'
        f"Content-Transfer-Encoding: {enc}\n\n{content}\n--mixed--\n"
    )


def signed(name, subject, entity, signature, args):
    """RFC 3156 §5 multipart/signed around the entity the producer signed, byte for byte."""
    with open(entity, newline="") as f:
        signed_part = f.read()
    return (
        head(name, subject, extra_headers(name, args))
        + crlf(
            'Content-Type: multipart/signed; micalg=pgp-sha256;\n'
            ' protocol="application/pgp-signature"; boundary="signed"\n\n'
            "--signed\n"
        )
        + signed_part
        + crlf(
            "\n--signed\n"
            'Content-Type: application/pgp-signature; name="signature.asc"\n'
            'Content-Disposition: attachment; filename="signature.asc"\n\n'
            f"{read(signature)}\n--signed--\n"
        )
    )


def charset(name, cs):
    """Plain mail as Python's email package writes it in `cs` (its own choice of transfer
    encoding; RFC 2047 words in the Subject and the display name)."""
    text, subject, display = LEGACY[cs]
    msg = email.mime.text.MIMEText(text + "\n", "plain", cs)
    addr = f"{producer(name)}@reporter.example"
    msg["From"] = email.utils.formataddr((display, addr), charset=cs)
    msg["To"] = TO
    msg["Subject"] = email.header.Header(subject, cs)
    msg["Date"] = DATE
    msg["Message-ID"] = f"<{name}@reporter.example>"
    return msg.as_bytes(policy=email.policy.compat32.clone(linesep="\r\n"))


def main(argv):
    cmd, rest = argv[1], argv[2:]
    if cmd == "payload":
        out = payload(rest[0], rest)
    elif cmd == "pgpmime":
        out = pgpmime(rest[0], rest[1], rest[2], rest)
    elif cmd == "inline":
        out = inline(rest[0], rest[1], rest[2], rest)
    elif cmd == "attachment":
        out = attachment(rest[0], rest[1], rest[2], rest[3], rest[4], rest)
    elif cmd == "signed":
        out = signed(rest[0], rest[1], rest[2], rest[3], rest)
    elif cmd == "charset":
        sys.stdout.buffer.write(charset(rest[0], rest[1]))
        return
    elif cmd == "legacy":
        # For generate.sh's s-nail messages: body, subject and name, one a line.
        out = "\n".join(LEGACY[rest[0]]) + "\n"
    else:
        sys.exit(f"mime.py: unknown command {cmd}")
    sys.stdout.buffer.write(out.encode())


if __name__ == "__main__":
    main(sys.argv)
